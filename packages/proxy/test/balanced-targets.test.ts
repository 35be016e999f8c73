import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { get, makeRoute, startProxy, startUpstream } from './helpers';

/** An app that gives every visitor without a session a new one, named by the worker. */
function sessionApp(id: string) {
  let n = 0;
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!/demo\.sid=/.test(req.headers.cookie ?? '')) res.setHeader('Set-Cookie', `demo.sid=${id}-${++n}; Path=/`);
    res.end(id);
  };
}

/** A pool of several attached instances: new sessions are spread, old ones never move. */
describe('new sessions over several attached instances', () => {
  it('go to the instance with the fewest live sessions, in turn among equals: 30 visitors on 3 instances make 10 each', async () => {
    await using w0 = await startUpstream('web@0', sessionApp('web@0'));
    await using w1 = await startUpstream('web@1', sessionApp('web@1'));
    await using w2 = await startUpstream('web@2', sessionApp('web@2'));
    const route = makeRoute(w2.upstream, { targets: [w0.upstream, w1.upstream, w2.upstream] });
    await using testProxy = await startProxy(route);
    for (let i = 0; i < 30; i++) await get(testProxy.port, '/');
    expect([w0, w1, w2].map((w) => w.upstream.lease.sessions)).toEqual([10, 10, 10]);

    // A session stays on its instance whatever the counts say.
    const sid = route.sessions.idsOf(w0.upstream)[0]!;
    for (let i = 0; i < 3; i++) expect((await get(testProxy.port, '/', { Cookie: `demo.sid=${sid}` })).body).toBe('web@0');
  });

  it('fill a newly added instance first, and skip one that is not routable', async () => {
    await using w0 = await startUpstream('web@0', sessionApp('web@0'));
    await using w1 = await startUpstream('web@1', sessionApp('web@1'));
    const route = makeRoute(w0.upstream);
    await using testProxy = await startProxy(route);
    for (let i = 0; i < 4; i++) await get(testProxy.port, '/');
    expect(w0.upstream.lease.sessions).toBe(4);
    route.targets = [w0.upstream, w1.upstream];
    route.target = w1.upstream;
    for (let i = 0; i < 4; i++) expect((await get(testProxy.port, '/')).body).toBe('web@1');
    expect([w0.upstream.lease.sessions, w1.upstream.lease.sessions]).toEqual([4, 4]);
    w1.upstream.routable = false;
    for (let i = 0; i < 2; i++) expect((await get(testProxy.port, '/')).body).toBe('web@0');
  });

  it('a new session whose instance cannot be reached is retried on another one', async () => {
    await using w0 = await startUpstream('web@0', sessionApp('web@0'));
    await using dead = await startUpstream('web@1', sessionApp('web@1'));
    await dead[Symbol.asyncDispose]();
    const route = makeRoute(dead.upstream, { targets: [dead.upstream, w0.upstream] });
    await using testProxy = await startProxy(route);
    for (let i = 0; i < 4; i++) expect((await get(testProxy.port, '/')).body).toBe('web@0');
  });
});
