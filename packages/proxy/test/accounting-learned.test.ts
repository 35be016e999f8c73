import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { SessionTable } from '@handover/session-table';
import type { Upstream } from '../src/index';
import { answerWith, get, makeRoute, startProxy, startUpstream } from './helpers';

/**
 * Apps that adopt a session id without saying so (PHP with its stock session.use_strict_mode=0
 * takes any id it does not know, and sends no Set-Cookie for it): the proxy learns the binding
 * from the request when the worker's answer neither replaces nor clears the id.
 */
describe('a session learned from the request', () => {
  it('binds an id the table did not know to the worker that answered without replacing it; it stays there after a switch', async () => {
    await using w0 = await startUpstream('web@0', answerWith('web@0'));
    await using w1 = await startUpstream('web@1', answerWith('web@1'));
    const route = makeRoute(w0.upstream);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    expect((await get(port, '/cart', { Cookie: 'demo.sid=ADOPTED' })).body).toBe('web@0');
    expect(route.sessions.peek('ADOPTED')).toBe(w0.upstream);
    expect(w0.upstream.lease.sessions).toBe(1);
    route.target = w1.upstream; // a detach-and-sync: new sessions go to web@1
    expect((await get(port, '/cart', { Cookie: 'demo.sid=ADOPTED' })).body).toBe('web@0');
    expect((await get(port, '/cart', { Cookie: 'demo.sid=OTHER' })).body).toBe('web@1');
    expect(w0.upstream.lease.sessions).toBe(1);
    expect(w1.upstream.lease.sessions).toBe(1);
  });

  it('the ;jsessionid= of a URL without a cookie is learned the same way', async () => {
    await using w0 = await startUpstream('web@0', answerWith('web@0'));
    const route = makeRoute(w0.upstream, { sessionPathParameter: 'jsessionid' });
    await using testProxy = await startProxy(route);
    await get(testProxy.port, '/shop;jsessionid=PATHID?x=1');
    expect(route.sessions.peek('PATHID')).toBe(w0.upstream);
  });

  it('learns nothing when the answer replaces the id (a new session), clears it, or reports sessions itself', async () => {
    const answers: Record<string, (res: ServerResponse) => void> = {
      '/replace': (res) => res.setHeader('Set-Cookie', 'demo.sid=FRESH; Path=/; HttpOnly'),
      '/clear': (res) => res.setHeader('Set-Cookie', 'demo.sid=; Max-Age=0; Path=/'),
      '/report': (res) => res.setHeader('X-Handover-Session', 'SOMEONE-ELSE; ttl=60'),
    };
    await using w0 = await startUpstream('web@0', (req: IncomingMessage, res: ServerResponse) => {
      answers[req.url ?? '']?.(res);
      res.end('web@0');
    });
    const route = makeRoute(w0.upstream);
    await using testProxy = await startProxy(route);
    for (const path of Object.keys(answers)) await get(testProxy.port, path, { Cookie: `demo.sid=STALE${path.slice(1)}` });
    expect(route.sessions.peek('STALEreplace')).toBeUndefined();
    expect(route.sessions.peek('FRESH')).toBe(w0.upstream);
    expect(route.sessions.peek('STALEclear')).toBeUndefined();
    expect(route.sessions.peek('STALEreport')).toBeUndefined();
    expect(route.sessions.peek('SOMEONE-ELSE')).toBe(w0.upstream);
    expect(w0.upstream.lease.sessions).toBe(2);
  });

  it('never moves a known session, and counts one learned twice once', async () => {
    await using w0 = await startUpstream('web@0', answerWith('web@0'));
    await using w1 = await startUpstream('web@1', answerWith('web@1'));
    const route = makeRoute(w1.upstream);
    route.sessions.bind('KNOWN', w0.upstream, 60_000);
    w0.upstream.routable = false; // its owner is stopping: the request goes to the target
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    expect((await get(port, '/', { Cookie: 'demo.sid=KNOWN' })).body).toBe('web@1');
    expect(route.sessions.peek('KNOWN')).toBe(w0.upstream);
    await get(port, '/', { Cookie: 'demo.sid=NEW' });
    await get(port, '/', { Cookie: 'demo.sid=NEW' });
    expect(w1.upstream.lease.sessions).toBe(1);
  });

  it('made-up ids from a client stay within the table limit', async () => {
    await using w0 = await startUpstream('web@0', answerWith('web@0'));
    const route = makeRoute(w0.upstream, { sessions: new SessionTable<Upstream>({ maxSessions: 20 }) });
    await using testProxy = await startProxy(route);
    for (let i = 0; i < 100; i++) await get(testProxy.port, '/', { Cookie: `demo.sid=junk${i}` });
    expect(route.sessions.size).toBe(20);
    expect(w0.upstream.lease.sessions).toBe(20);
  });

  it('guesses nothing for an app that reports its sessions: off by config, and off by itself after its first report', async () => {
    await using w0 = await startUpstream('web@0', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/login') res.setHeader('X-Handover-Session', 'REAL; ttl=60');
      res.end('web@0');
    });
    const configured = makeRoute(w0.upstream, { learnSessions: false });
    await using first = await startProxy(configured);
    await get(first.port, '/', { Cookie: 'demo.sid=STRANGER' });
    expect(configured.sessions.peek('STRANGER')).toBeUndefined();

    const detected = makeRoute(w0.upstream);
    await using second = await startProxy(detected);
    await get(second.port, '/login');
    expect(detected.sessions.peek('REAL')).toBe(w0.upstream);
    await get(second.port, '/', { Cookie: 'demo.sid=STRANGER' });
    expect(detected.sessions.peek('STRANGER')).toBeUndefined();
    expect(w0.upstream.lease.sessions).toBe(1);
  });
});
