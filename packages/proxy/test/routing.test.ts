import { describe, expect, it } from 'vitest';
import { answerWith, deadPort, deadUpstream, get, makeRoute, startProxy, startUpstream } from './helpers';

describe('routing', () => {
  it('sends requests without a session to the target and bound sessions to their owner, even when draining', async () => {
    await using w0 = await startUpstream('web@0', answerWith('web@0'));
    await using w1 = await startUpstream('web@1', answerWith('web@1'));
    const route = makeRoute(w1.upstream);
    route.sessions.bind('s-old', w0.upstream, 60_000);
    w0.upstream.draining = true;
    await using testProxy = await startProxy(route);
    const { port } = testProxy;

    expect((await get(port, '/')).body).toBe('web@1');
    expect((await get(port, '/', { Cookie: 'a=1; demo.sid=s-old' })).body).toBe('web@0');
    expect((await get(port, '/', { Cookie: 'demo.sid=unknown' })).body).toBe('web@1');
  });

  it('sends a cookie bound to a non-routable worker to the target (never to that worker), never a 502', async () => {
    // The owner still listens: were it chosen, it would answer (no retry to hide the mistake).
    await using w0 = await startUpstream('web@0', answerWith('web@0'));
    await using w1 = await startUpstream('web@1', answerWith('web@1'));
    w0.upstream.routable = false;
    const route = makeRoute(w1.upstream);
    route.sessions.bind('s-dead', w0.upstream, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const reply = await get(port, '/', { Cookie: 'demo.sid=s-dead' });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('web@1');
    expect(w0.connections).toBe(0);
    expect(w0.seen).toHaveLength(0);
  });

  it('reads the session from a ;jsessionid= path parameter when configured', async () => {
    await using w0 = await startUpstream('web@0', answerWith('web@0'));
    await using w1 = await startUpstream('web@1', answerWith('web@1'));
    const route = makeRoute(w1.upstream, { sessionCookie: 'JSESSIONID', sessionPathParameter: 'jsessionid' });
    route.sessions.bind('ABC', w0.upstream, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    expect((await get(port, '/app/page;jsessionid=ABC?x=1')).body).toBe('web@0');
    expect(w0.seen[0]?.url).toBe('/app/page;jsessionid=ABC?x=1');
    expect((await get(port, '/app/page', { Cookie: 'JSESSIONID=ABC' })).body).toBe('web@0');
    expect((await get(port, '/app/page;jsessionid=XYZ')).body).toBe('web@1');
  });

  it('answers 503 with Retry-After when there is no target', async () => {
    const route = makeRoute(undefined);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const reply = await get(port, '/');
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('1');
    expect(reply.headers['content-type']).toMatch(/^text\/plain/);
    expect(reply.body.length).toBeGreaterThan(0);
    expect(reply.body.length).toBeLessThan(100);
  });

  it('switches to a new target as soon as the supervisor changes it', async () => {
    await using w0 = await startUpstream('web@0', answerWith('web@0'));
    await using w1 = await startUpstream('web@1', answerWith('web@1'));
    const route = makeRoute(w0.upstream);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    expect((await get(port, '/')).body).toBe('web@0');
    route.target = w1.upstream;
    expect((await get(port, '/')).body).toBe('web@1');
  });

  it('answers /healthz itself, never forwarding it', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const reply = await get(port, '/healthz');
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('ok\n');
    expect((await get(port, '/healthz?probe=1')).status).toBe(200);
    expect(w.seen).toHaveLength(0);
    // and it works with no worker at all
    await using testProxy2 = await startProxy(makeRoute(undefined));
    const { port: bare } = testProxy2;
    expect((await get(bare, '/healthz')).status).toBe(200);
  });
});

describe('upstream failures', () => {
  it('retries once on the target when the chosen worker refuses the connection (GET)', async () => {
    await using w1 = await startUpstream('web@1', answerWith('web@1'));
    const dead = deadUpstream('web@0', await deadPort());
    const route = makeRoute(w1.upstream);
    route.sessions.bind('s', dead, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const reply = await get(port, '/', { Cookie: 'demo.sid=s' });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('web@1');
    expect(dead.lease.inFlight).toBe(0);
    expect(w1.upstream.lease.inFlight).toBe(0);
  });

  it('retries a POST too: its body is held back until the upstream connection is up', async () => {
    await using w1 = await startUpstream('web@1', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`web@1 got ${Buffer.concat(chunks).toString()}`));
    });
    const dead = deadUpstream('web@0', await deadPort());
    const route = makeRoute(w1.upstream);
    route.sessions.bind('s', dead, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const reply = await get(port, '/form', { Cookie: 'demo.sid=s', 'Content-Type': 'text/plain' }, 'POST', 'hello body');
    expect(reply.body).toBe('web@1 got hello body');
  });

  it('answers 502 when the target itself refuses and there is nothing else', async () => {
    const dead = deadUpstream('web@0', await deadPort());
    await using testProxy = await startProxy(makeRoute(dead));
    const { port } = testProxy;
    const reply = await get(port, '/');
    expect(reply.status).toBe(502);
    expect(reply.body).toMatch(/Bad Gateway/);
    expect(dead.lease.inFlight).toBe(0);
  });

  it('answers 502 (no retry) when the worker resets after receiving the request', async () => {
    await using w0 = await startUpstream('web@0', (req) => req.socket.destroy());
    await using w1 = await startUpstream('web@1', answerWith('web@1'));
    const route = makeRoute(w1.upstream);
    route.sessions.bind('s', w0.upstream, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const reply = await get(port, '/', { Cookie: 'demo.sid=s' });
    expect(reply.status).toBe(502);
    expect(w1.seen).toHaveLength(0);
    expect(w0.upstream.lease.inFlight).toBe(0);
  });

  it('retries a GET on a fresh connection when a pooled connection turns out closed', async () => {
    let n = 0;
    await using w = await startUpstream('web@0', (req, res) => {
      n++;
      // The second request on a connection kills it, as a worker closing an idle socket would.
      const onThisSocket = ((req.socket as unknown as { count?: number }).count = ((req.socket as unknown as { count?: number }).count ?? 0) + 1);
      if (onThisSocket > 1) return req.socket.destroy();
      res.end('fine');
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const first = await get(port, '/1');
    expect(first.body).toBe('fine');
    const second = await get(port, '/2');
    expect(second.status).toBe(200);
    expect(second.body).toBe('fine');
    expect(n).toBe(3);
    expect(w.connections).toBe(2);
  });

  it('does not retry a POST whose body may have reached the worker', async () => {
    await using w0 = await startUpstream('web@0', (req) => req.on('data', () => req.socket.destroy()));
    await using w1 = await startUpstream('web@1', answerWith('web@1'));
    const route = makeRoute(w1.upstream);
    route.sessions.bind('s', w0.upstream, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const reply = await get(port, '/', { Cookie: 'demo.sid=s' }, 'POST', 'data');
    expect(reply.status).toBe(502);
    expect(w1.seen).toHaveLength(0);
  });
});
