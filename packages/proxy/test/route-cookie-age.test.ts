import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionTable } from '@handover/session-table';
import { routeCookieValue, verifyRoute, type Route, type RouteCookie, type Upstream } from '../src/index';
import { asyncResource, disposeAll, get, makeRoute, startProxy, startUpstream } from './helpers';

const IDLE_MS = 1_800_000; // the pool's idle timeout: 30 min
const T0 = 1_750_000_000_000; // some moment, in ms

/** One clock for the table and the route cookie, moved by the test. */
function clock() {
  const c = { now: T0 };
  return { c, now: () => c.now };
}

function routeCookie(workers: Upstream[], key: Buffer, now: () => number): RouteCookie {
  return { name: 'handover_route', key, upstream: (id) => workers.find((w) => w.id === id), now };
}

function routeLines(setCookie: string[] | undefined): string[] {
  return (setCookie ?? []).filter((line) => line.startsWith('handover_route='));
}

const seconds = (ms: number) => Math.floor(ms / 1000);

describe('route cookie: issue time', () => {
  it('carries its issue time, signed with the worker and the session', () => {
    const key = randomBytes(32);
    const issued = seconds(T0);
    const value = routeCookieValue(key, 'web@3', 'S1', issued);
    expect(value).toMatch(new RegExp(`^web@3\\.${issued.toString(36)}\\.[A-Za-z0-9_-]{16}$`));
    expect(verifyRoute(key, value, 'S1')).toEqual({ upstreamId: 'web@3', issuedSec: issued });
    expect(verifyRoute(key, value, 'S2')).toBeUndefined();
    // The time is under the signature: making a cookie younger breaks it.
    expect(verifyRoute(key, value.replace(`.${issued.toString(36)}.`, `.${(issued + 3600).toString(36)}.`), 'S1')).toBeUndefined();
  });

  it('ignores the old format (worker and signature only)', () => {
    const key = randomBytes(32);
    const oldSignature = createHmac('sha256', key).update('web@0').update('\n').update('S1').digest('base64url').slice(0, 16);
    expect(verifyRoute(key, `web@0.${oldSignature}`, 'S1')).toBeUndefined();
    for (const bad of ['web@0..AAAAAAAAAAAAAAAA', '.1.AAAAAAAAAAAAAAAA', 'web@0.-1.AAAAAAAAAAAAAAAA', 'web@0.ZZ.AAAAAAAAAAAAAAAA']) {
      expect(verifyRoute(key, bad, 'S1')).toBeUndefined();
    }
  });
});

describe('route cookie: honoured only within the idle timeout (real sockets)', () => {
  async function setup() {
    const { c, now } = clock();
    const old = await startUpstream('web@0', (_req, res) => res.end('old'));
    // As a real app does with an id it does not know: a new session (so S1 is never adopted there).
    let n = 0;
    const fresh = await startUpstream('web@1', (_req, res) => {
      res.setHeader('Set-Cookie', `demo.sid=NEW${++n}; Path=/`);
      res.end('new');
    });
    old.upstream.draining = true;
    const key = randomBytes(32);
    const route: Route = makeRoute(fresh.upstream, {
      idleTimeoutMs: IDLE_MS,
      sessions: new SessionTable<Upstream>({ now }),
      routeCookie: routeCookie([old.upstream, fresh.upstream], key, now),
    });
    const proxy = await startProxy(route);
    return asyncResource({ c, old, fresh, key, route, port: proxy.port }, () => disposeAll(old, fresh, proxy));
  }

  it('a cookie older than the idle timeout does not restore an ended session on a detached worker', async () => {
    await using started = await setup();
    const { c, old, key, route, port } = started;
    const cookie = `demo.sid=S1; handover_route=${routeCookieValue(key, 'web@0', 'S1', seconds(T0))}`;
    c.now = T0 + IDLE_MS + 1000;
    const reply = await get(port, '/', { Cookie: cookie });
    expect(reply.body).toBe('new');
    expect(route.sessions.peek('S1')).toBeUndefined();
    expect(old.upstream.lease.sessions).toBe(0);
  });

  it('a cookie within the idle timeout restores the binding', async () => {
    await using started = await setup();
    const { c, old, key, route, port } = started;
    const cookie = `demo.sid=S1; handover_route=${routeCookieValue(key, 'web@0', 'S1', seconds(T0))}`;
    c.now = T0 + IDLE_MS - 1000;
    const reply = await get(port, '/', { Cookie: cookie });
    expect(reply.body).toBe('old');
    expect(route.sessions.peek('S1')).toBe(old.upstream);
  });

  it('a cookie from further in the future than a minute of clock skew is refused', async () => {
    await using started = await setup();
    const { key, route, port } = started;
    const cookie = `demo.sid=S1; handover_route=${routeCookieValue(key, 'web@0', 'S1', seconds(T0) + 3600)}`;
    expect((await get(port, '/', { Cookie: cookie })).body).toBe('new');
    expect(route.sessions.peek('S1')).toBeUndefined();
  });
});

describe('route cookie: re-issued once older than half the idle timeout (HAProxy maxidle)', () => {
  it('stamps the cookie it sets, re-sends it only when the client’s copy is past half the idle timeout', async () => {
    const { c, now } = clock();
    await using w = await startUpstream('web@0', (req, res) => {
      if (req.url === '/login') res.setHeader('Set-Cookie', 'demo.sid=S1; Path=/; HttpOnly; Secure');
      res.end('ok');
    });
    const key = randomBytes(32);
    const route = makeRoute(w.upstream, {
      idleTimeoutMs: IDLE_MS,
      sessions: new SessionTable<Upstream>({ now }),
      routeCookie: routeCookie([w.upstream], key, now),
    });
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const login = routeLines((await get(port, '/login')).headers['set-cookie']);
    expect(login[0]?.split(';')[0]).toBe(`handover_route=${routeCookieValue(key, 'web@0', 'S1', seconds(T0))}`);

    // Used throughout; nothing to re-send until half the idle timeout has passed.
    for (const at of [60_000, IDLE_MS / 4, IDLE_MS / 2 - 2000]) {
      c.now = T0 + at;
      expect(routeLines((await get(port, '/page', { Cookie: 'demo.sid=S1' })).headers['set-cookie']), `at ${at}`).toEqual([]);
    }
    c.now = T0 + IDLE_MS / 2 + 2000;
    const renewed = routeLines((await get(port, '/page', { Cookie: 'demo.sid=S1' })).headers['set-cookie']);
    expect(renewed).toEqual([
      `handover_route=${routeCookieValue(key, 'web@0', 'S1', seconds(c.now))}; Path=/; HttpOnly; SameSite=Lax; Secure`,
    ]);
    // Once: the next response says nothing.
    expect(routeLines((await get(port, '/page', { Cookie: 'demo.sid=S1' })).headers['set-cookie'])).toEqual([]);
    // A session used every few minutes for hours thus always holds a cookie that is valid.
    let held = renewed[0]!.split(';')[0]!.slice('handover_route='.length);
    for (let step = 1; step <= 15; step++) {
      c.now += IDLE_MS / 5;
      const claim = verifyRoute(key, held, 'S1');
      expect(claim?.upstreamId).toBe('web@0');
      expect(c.now - claim!.issuedSec * 1000).toBeLessThan(IDLE_MS);
      const lines = routeLines((await get(port, '/page', { Cookie: 'demo.sid=S1' })).headers['set-cookie']);
      if (lines[0] !== undefined) held = lines[0].split(';')[0]!.slice('handover_route='.length);
    }
    expect(verifyRoute(key, held, 'S1')!.issuedSec).toBeGreaterThan(seconds(T0 + 2 * IDLE_MS));
  });

  it('a binding restored from an aging cookie is re-issued on that same response', async () => {
    const { c, now } = clock();
    await using old = await startUpstream('web@0', (_req, res) => res.end('old'));
    await using fresh = await startUpstream('web@1', (_req, res) => res.end('new'));
    old.upstream.draining = true;
    const key = randomBytes(32);
    const route = makeRoute(fresh.upstream, {
      idleTimeoutMs: IDLE_MS,
      sessions: new SessionTable<Upstream>({ now }),
      routeCookie: routeCookie([old.upstream, fresh.upstream], key, now),
    });
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const young = `demo.sid=S1; handover_route=${routeCookieValue(key, 'web@0', 'S1', seconds(T0))}`;
    c.now = T0 + 60_000;
    const first = await get(port, '/', { Cookie: young });
    expect(first.body).toBe('old');
    expect(routeLines(first.headers['set-cookie'])).toEqual([]);

    route.sessions.unbind('S1'); // lost again (as after another kill -9)
    c.now = T0 + IDLE_MS - 60_000;
    const second = await get(port, '/', { Cookie: young });
    expect(second.body).toBe('old');
    expect(routeLines(second.headers['set-cookie'])[0]?.split(';')[0]).toBe(
      `handover_route=${routeCookieValue(key, 'web@0', 'S1', seconds(c.now))}`,
    );
  });
});
