import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionTable } from '@handover/session-table';
import { routeCookieValue, verifyRoute, type Route, type RouteCookie, type Upstream } from '../src/index';
import { get, makeRoute, startProxy, startUpstream } from './helpers';

function routeCookie(workers: Upstream[], key = randomBytes(32)): RouteCookie {
  return { name: 'handover_route', key, upstream: (id) => workers.find((w) => w.id === id) };
}

/** Issued now (these tests use the real clock; route-cookie-age.test.ts moves it). */
const nowSec = () => Math.floor(Date.now() / 1000);

/** The route cookie lines among a response's Set-Cookie headers. */
function routeLines(setCookie: string[] | undefined): string[] {
  return (setCookie ?? []).filter((line) => line.startsWith('handover_route='));
}

describe('route cookie: signatures', () => {
  it('verifies only for the session id and worker it was made for, and only with the key', () => {
    const key = randomBytes(32);
    const value = routeCookieValue(key, 'web@3', 'S1', nowSec());
    expect(verifyRoute(key, value, 'S1')?.upstreamId).toBe('web@3');
    expect(verifyRoute(key, value, 'S2')).toBeUndefined();
    expect(verifyRoute(randomBytes(32), value, 'S1')).toBeUndefined();
    // Pointing a valid signature at another worker breaks it.
    expect(verifyRoute(key, value.replace('web@3', 'web@1'), 'S1')).toBeUndefined();
    for (const bad of ['', '.', 'web@3', 'web@3.', `.${value.split('.').slice(1).join('.')}`, `${value}x`, 'web@3.AAAAAAAAAAAAAAAA']) {
      expect(verifyRoute(key, bad, 'S1')).toBeUndefined();
    }
  });
});

describe('route cookie: on real sockets', () => {
  it('is set once when a session is bound, cleared when it ends, never on ordinary responses', async () => {
    await using w = await startUpstream('web@0', (req, res) => {
      if (req.url === '/login') res.setHeader('Set-Cookie', 'demo.sid=S1; Path=/; HttpOnly; Secure');
      if (req.url === '/again') res.setHeader('Set-Cookie', 'demo.sid=S1; Path=/; HttpOnly');
      if (req.url === '/logout') res.setHeader('Set-Cookie', 'demo.sid=; Path=/; Max-Age=0');
      res.end('ok');
    });
    const route = makeRoute(w.upstream, { routeCookie: routeCookie([w.upstream]) });
    await using testProxy = await startProxy(route);
    const { port } = testProxy;

    const login = await get(port, '/login');
    const [line] = routeLines(login.headers['set-cookie']);
    expect(line).toMatch(/^handover_route=web@0\.[0-9a-z]+\.[A-Za-z0-9_-]{16}; Path=\/; HttpOnly; SameSite=Lax; Secure$/);
    expect(login.headers['set-cookie']).toContain('demo.sid=S1; Path=/; HttpOnly; Secure');

    // Same session, same worker: nothing new to say.
    expect(routeLines((await get(port, '/again', { Cookie: 'demo.sid=S1' })).headers['set-cookie'])).toEqual([]);
    expect(routeLines((await get(port, '/page', { Cookie: 'demo.sid=S1' })).headers['set-cookie'])).toEqual([]);

    const logout = await get(port, '/logout', { Cookie: 'demo.sid=S1' });
    expect(routeLines(logout.headers['set-cookie'])).toEqual(['handover_route=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax']);
  });

  it('is set for sessions reported with X-Handover-Session, which never reaches the client', async () => {
    await using w = await startUpstream('web@0', (req, res) => {
      if (req.url === '/login') res.setHeader('X-Handover-Session', 'R1');
      if (req.url === '/logout') res.setHeader('X-Handover-Session', 'R1; ttl=0');
      res.end('ok');
    });
    const route = makeRoute(w.upstream, { routeCookie: routeCookie([w.upstream]) });
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const login = await get(port, '/login');
    expect(login.headers['x-handover-session']).toBeUndefined();
    const [line] = routeLines(login.headers['set-cookie']);
    expect(verifyRoute(route.routeCookie!.key, line!.split(';')[0]!.slice('handover_route='.length), 'R1')?.upstreamId).toBe('web@0');
    const logout = await get(port, '/logout', { Cookie: 'demo.sid=R1' });
    expect(routeLines(logout.headers['set-cookie'])[0]).toMatch(/Max-Age=0/);
  });

  it('routes a session the table lost to the worker its cookie names, and binds it again', async () => {
    await using old = await startUpstream('web@0', (_req, res) => res.end('old'));
    await using fresh = await startUpstream('web@1', (_req, res) => res.end('new'));
    const key = randomBytes(32);
    old.upstream.draining = true;
    // web@1 is the target now; the table has forgotten S9 (as after a supervisor kill -9).
    const route: Route = makeRoute(fresh.upstream, { routeCookie: routeCookie([old.upstream, fresh.upstream], key) });
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const cookie = `demo.sid=S9; handover_route=${routeCookieValue(key, 'web@0', 'S9', nowSec())}`;

    const reply = await get(port, '/page', { Cookie: cookie });
    expect(reply.body).toBe('old');
    expect(route.sessions.peek('S9')).toBe(old.upstream);
    expect(old.upstream.lease.sessions).toBe(1);
    // The client is not told again: its cookie is right.
    expect(routeLines(reply.headers['set-cookie'])).toEqual([]);
    // The forwarded request still carries the cookie header as sent (the app ignores unknown cookies).
    expect(old.seen[0]?.headers.cookie).toBe(cookie);
  });

  it('ignores forged, mismatched, dead-worker and unknown-worker route cookies (new visitor → target)', async () => {
    await using old = await startUpstream('web@0', (_req, res) => res.end('old'));
    // As a real app does with an id it does not know: a new session (so S1 is never adopted there).
    let n = 0;
    await using fresh = await startUpstream('web@1', (_req, res) => {
      res.setHeader('Set-Cookie', `demo.sid=NEW${++n}; Path=/`);
      res.end('new');
    });
    const key = randomBytes(32);
    const route = makeRoute(fresh.upstream, { routeCookie: routeCookie([old.upstream, fresh.upstream], key) });
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const cases = [
      `demo.sid=S1; handover_route=web@0.AAAAAAAAAAAAAAAA`, // forged signature
      `demo.sid=S1; handover_route=${routeCookieValue(key, 'web@0', 'S2', nowSec())}`, // signed for another session
      `demo.sid=S1; handover_route=${routeCookieValue(randomBytes(32), 'web@0', 'S1', nowSec())}`, // another key
      `demo.sid=S1; handover_route=${routeCookieValue(key, 'web@7', 'S1', nowSec())}`, // no such worker
      `handover_route=${routeCookieValue(key, 'web@0', 'S1', nowSec())}`, // no session id at all
      `demo.sid=S1; handover_route=%%%;;;===`, // garbage
    ];
    for (const cookie of cases) {
      const reply = await get(port, '/', { Cookie: cookie });
      expect(reply.status, cookie).toBe(200);
      expect(reply.body, cookie).toBe('new');
    }
    expect(route.sessions.peek('S1')).toBeUndefined();
    expect(old.upstream.lease.sessions).toBe(0);

    // A valid cookie naming a worker that is no longer routable: the target, never a 502.
    old.upstream.routable = false;
    const reply = await get(port, '/', { Cookie: `demo.sid=S1; handover_route=${routeCookieValue(key, 'web@0', 'S1', nowSec())}` });
    expect(reply.body).toBe('new');
    expect(route.sessions.peek('S1')).toBeUndefined();
  });

  it('never overrides a binding the table has', async () => {
    await using a = await startUpstream('web@0', (_req, res) => res.end('a'));
    await using b = await startUpstream('web@1', (_req, res) => res.end('b'));
    const key = randomBytes(32);
    const route = makeRoute(b.upstream, { routeCookie: routeCookie([a.upstream, b.upstream], key), sessions: new SessionTable<Upstream>() });
    route.sessions.bind('S1', b.upstream, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const reply = await get(port, '/', { Cookie: `demo.sid=S1; handover_route=${routeCookieValue(key, 'web@0', 'S1', nowSec())}` });
    expect(reply.body).toBe('b');
  });

  it('is off unless the route has one', async () => {
    await using w = await startUpstream('web@0', (_req, res) => {
      res.setHeader('Set-Cookie', 'demo.sid=S1');
      res.end('ok');
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    expect(routeLines((await get(port, '/login')).headers['set-cookie'])).toEqual([]);
  });
});
