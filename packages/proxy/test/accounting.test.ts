import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { SessionTable } from '@handover/session-table';
import type { Upstream } from '../src/index';
import { Lease } from '@handover/process-table';
import { answerWith, get, makeRoute, startProxy, startUpstream, waitFor } from './helpers';

describe('session accounting from Set-Cookie', () => {
  it('binds a set cookie to the worker that set it, unbinds it when cleared', async () => {
    await using w = await startUpstream('web@0', (req, res) => {
      if (req.url === '/login') res.setHeader('Set-Cookie', ['other=1; Path=/', 'demo.sid=S1; Path=/; HttpOnly']);
      if (req.url === '/logout') res.setHeader('Set-Cookie', 'demo.sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
      res.end('ok');
    });
    const route = makeRoute(w.upstream);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;

    const login = await get(port, '/login');
    expect(login.headers['set-cookie']).toEqual(['other=1; Path=/', 'demo.sid=S1; Path=/; HttpOnly']);
    expect(route.sessions.peek('S1')).toBe(w.upstream);
    expect(w.upstream.lease.sessions).toBe(1);

    await get(port, '/page', { Cookie: 'demo.sid=S1' });
    expect(w.upstream.lease.sessions).toBe(1);

    await get(port, '/logout', { Cookie: 'demo.sid=S1' });
    expect(route.sessions.peek('S1')).toBeUndefined();
    expect(w.upstream.lease.sessions).toBe(0);
  });

  it('treats Max-Age=0 as an unbind and a smaller Max-Age as the ttl', async () => {
    let now = 1_000_000;
    await using w = await startUpstream('web@0', (req, res) => {
      if (req.url === '/short') res.setHeader('Set-Cookie', 'demo.sid=S2; Max-Age=10');
      if (req.url === '/end') res.setHeader('Set-Cookie', 'demo.sid=S2; Max-Age=0');
      res.end('ok');
    });
    const route = makeRoute(w.upstream, { sessions: new SessionTable<Upstream>({ now: () => now }) });
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    await get(port, '/short');
    expect(route.sessions.peek('S2')).toBe(w.upstream);
    now += 11_000;
    expect(route.sessions.peek('S2')).toBeUndefined();
    now -= 11_000;
    await get(port, '/end', { Cookie: 'demo.sid=S2' });
    expect(route.sessions.size).toBe(0);
  });

  it('drops the old id when the worker rotates the session id (login)', async () => {
    await using w = await startUpstream('web@0', (_req, res) => {
      res.setHeader('Set-Cookie', 'demo.sid=NEW');
      res.end('ok');
    });
    const route = makeRoute(w.upstream);
    route.sessions.bind('OLD', w.upstream, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    await get(port, '/login', { Cookie: 'demo.sid=OLD' });
    expect(route.sessions.peek('OLD')).toBeUndefined();
    expect(route.sessions.peek('NEW')).toBe(w.upstream);
    expect(w.upstream.lease.sessions).toBe(1);
  });

  it("keeps another worker's binding when the target sets a new id for a client carrying it", async () => {
    // A's id reaches B (A is not routable, so B as the target answers); B starts a session of
    // its own. That is no rotation of A's id: A's binding must stay (A may become routable again).
    await using a = await startUpstream('web@0', answerWith('web@0'));
    await using b = await startUpstream('web@1', (_req, res) => {
      res.setHeader('Set-Cookie', 'demo.sid=FROM-B; Path=/');
      res.end('web@1');
    });
    const route = makeRoute(b.upstream);
    route.sessions.bind('OF-A', a.upstream, 60_000);
    a.upstream.routable = false;
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    expect((await get(port, '/', { Cookie: 'demo.sid=OF-A' })).body).toBe('web@1');
    expect(route.sessions.peek('FROM-B')).toBe(b.upstream);
    expect(route.sessions.peek('OF-A')).toBe(a.upstream);
    expect(a.upstream.lease.sessions).toBe(1);
    expect(a.seen).toHaveLength(0);
  });

  it('unbinds the id the request carried when the target clears a stale cookie', async () => {
    await using w1 = await startUpstream('web@1', (_req, res) => {
      res.setHeader('Set-Cookie', 'demo.sid=; Max-Age=0');
      res.end('ok');
    });
    const dead: Upstream = { ...w1.upstream, id: 'web@0', routable: false, lease: new Lease() };
    const route = makeRoute(w1.upstream);
    route.sessions.bind('STALE', dead, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    await get(port, '/', { Cookie: 'demo.sid=STALE' });
    expect(route.sessions.size).toBe(0);
    expect(dead.lease.sessions).toBe(0);
  });
});

describe('X-Handover-Session protocol', () => {
  it('binds with the reported ttl, unbinds on ttl=0, accepts several entries, and never reaches the client', async () => {
    let now = 5_000_000;
    let report = '';
    await using w = await startUpstream('web@0', (_req, res) => {
      res.setHeader('X-Handover-Session', report);
      res.end('ok');
    });
    const route = makeRoute(w.upstream, { sessions: new SessionTable<Upstream>({ now: () => now }) });
    await using testProxy = await startProxy(route);
    const { port } = testProxy;

    report = 'A; ttl=30, B; ttl=600';
    const reply = await get(port, '/');
    expect(reply.rawHeaders.map((h) => h.toLowerCase())).not.toContain('x-handover-session');
    expect(route.sessions.peek('A')).toBe(w.upstream);
    expect(route.sessions.peek('B')).toBe(w.upstream);
    expect(w.upstream.lease.sessions).toBe(2);
    now += 31_000;
    expect(route.sessions.peek('A')).toBeUndefined();
    expect(route.sessions.peek('B')).toBe(w.upstream);

    report = 'B; ttl=0';
    await get(port, '/logout', { Cookie: 'demo.sid=B' });
    expect(route.sessions.peek('B')).toBeUndefined();
  });

  it('uses the idle timeout when no ttl is given', async () => {
    let now = 0;
    await using w = await startUpstream('web@0', (_req, res) => {
      res.setHeader('X-Handover-Session', 'C');
      res.end('ok');
    });
    const route = makeRoute(w.upstream, { idleTimeoutMs: 1000, sessions: new SessionTable<Upstream>({ now: () => now }) });
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    await get(port, '/');
    now = 999;
    expect(route.sessions.peek('C')).toBe(w.upstream);
    now = 1000;
    expect(route.sessions.peek('C')).toBeUndefined();
  });

  it('wins over Set-Cookie inference on the same response', async () => {
    await using w = await startUpstream('web@0', (_req, res) => {
      res.setHeader('Set-Cookie', 'demo.sid=FROM-COOKIE');
      res.setHeader('X-Handover-Session', 'FROM-REPORT; ttl=60');
      res.end('ok');
    });
    const route = makeRoute(w.upstream);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const reply = await get(port, '/');
    expect(reply.headers['set-cookie']).toEqual(['demo.sid=FROM-COOKIE']);
    expect(route.sessions.peek('FROM-REPORT')).toBe(w.upstream);
    expect(route.sessions.peek('FROM-COOKIE')).toBeUndefined();
  });
});

describe('internal headers never cross', () => {
  it('drops x-handover-* from client requests and from worker responses', async () => {
    await using w = await startUpstream('web@0', (_req, res) => {
      res.setHeader('X-Handover-Debug', 'secret');
      res.setHeader('x-handover-session', 'S; ttl=60');
      res.setHeader('X-Handoverish', 'kept');
      res.end('ok');
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const reply = await get(port, '/', { 'X-Handover-Session': 'forged; ttl=99999', 'x-handover-worker': 'web@9', 'X-Other': 'kept' });
    const seen = w.seen[0]?.rawHeaders.map((h) => h.toLowerCase()) ?? [];
    expect(seen.some((h) => h.startsWith('x-handover-'))).toBe(false);
    expect(w.seen[0]?.headers['x-other']).toBe('kept');
    const names = reply.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
    expect(names.some((h) => h.startsWith('x-handover-'))).toBe(false);
    expect(reply.headers['x-handoverish']).toBe('kept');
  });
});

describe('inFlight and onRelease', () => {
  it('counts a request while it runs and releases a draining worker once it finishes', async () => {
    const pending: ServerResponse[] = [];
    await using w = await startUpstream('web@0', (_req, res) => pending.push(res));
    const route = makeRoute(w.upstream);
    await using testProxy = await startProxy(route);
    const { port, released } = testProxy;
    const a = get(port, '/a');
    const b = get(port, '/b');
    await waitFor(() => pending.length === 2, 'both requests at the worker');
    expect(w.upstream.lease.inFlight).toBe(2);
    w.upstream.draining = true;
    pending[0]?.end('a');
    await a;
    await waitFor(() => w.upstream.lease.inFlight === 1, 'inFlight 1');
    expect(released).toEqual([w.upstream]);
    pending[1]?.end('b');
    await b;
    await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight 0');
    expect(released).toEqual([w.upstream, w.upstream]);
  });

  it('does not call onRelease for attached workers, and counts errors and aborts exactly once', async () => {
    await using w = await startUpstream('web@0', (req, res) => {
      if (req.url === '/boom') return req.socket.destroy();
      res.end('ok');
    });
    const route = makeRoute(w.upstream);
    await using testProxy = await startProxy(route);
    const { port, released } = testProxy;
    await get(port, '/');
    expect((await get(port, '/boom')).status).toBe(502);
    expect(w.upstream.lease.inFlight).toBe(0);
    expect(released).toEqual([]);
  });

  it('a 503 counts nothing', async () => {
    await using testProxy = await startProxy(makeRoute(undefined));
    const { port, released } = testProxy;
    expect((await get(port, '/')).status).toBe(503);
    expect(released).toEqual([]);
  });
});
