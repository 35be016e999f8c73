import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { findSessionId, parseSetCookieEffect, type Upstream } from '../src/index';
import { get, makeRoute, startProxy, startUpstream } from './helpers';

/** A worker that sets, on /login, and clears, on /clear?…, the session cookie with the given attributes. */
async function cookieWorker(loginLine: string) {
  return startUpstream('web@0', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/login') res.setHeader('Set-Cookie', loginLine);
    if (url.pathname === '/clear') res.setHeader('Set-Cookie', `demo.sid=; Max-Age=0${url.searchParams.get('attrs') ?? ''}`);
    res.end('ok');
  });
}

const clear = (port: number, attrs: string) => get(port, `/clear?attrs=${encodeURIComponent(attrs)}`, { Cookie: 'demo.sid=S1' });

describe('Set-Cookie attributes', () => {
  it('reads Path and Domain (Domain lower-cased, its leading dot dropped; a Path not starting with / is ignored)', () => {
    expect(parseSetCookieEffect('demo.sid=a; Path=/app; Domain=.Example.COM; Secure', 'demo.sid')).toMatchObject({
      path: '/app',
      domain: 'example.com',
      secure: true,
    });
    expect(parseSetCookieEffect('demo.sid=a', 'demo.sid')).toMatchObject({ path: undefined, domain: undefined, secure: false });
    expect(parseSetCookieEffect('demo.sid=a; path=relative; DOMAIN=', 'demo.sid')).toMatchObject({ path: undefined, domain: undefined });
  });
});

describe('a cleared session cookie unbinds only when it is the session cookie (same Path and Domain)', () => {
  it('ignores a clear for another Path or another Domain, honours one with the Path and Domain it was set with', async () => {
    await using w = await cookieWorker('demo.sid=S1; Path=/; HttpOnly');
    const route = makeRoute(w.upstream);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    await get(port, '/login');
    expect(route.sessions.peek('S1')).toBe(w.upstream);

    for (const attrs of ['; Path=/other', '; Path=/; Domain=example.com', '; Domain=other.example']) {
      await clear(port, attrs);
      expect(route.sessions.peek('S1'), attrs).toBe(w.upstream);
    }
    expect(w.upstream.lease.sessions).toBe(1);
    await clear(port, '; Path=/');
    expect(route.sessions.peek('S1')).toBeUndefined();
    expect(w.upstream.lease.sessions).toBe(0);
  });

  it('learns the scope from the Set-Cookie that bound the session (Tomcat: Path=/<context>)', async () => {
    await using w = await cookieWorker('demo.sid=S1; Path=/shop; HttpOnly');
    const route = makeRoute(w.upstream);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    await get(port, '/login');
    for (const attrs of ['; Path=/', '; Path=/shop/', '; Path=/sho']) {
      await clear(port, attrs);
      expect(route.sessions.peek('S1'), attrs).toBe(w.upstream);
    }
    await clear(port, '; Path=/shop');
    expect(route.sessions.peek('S1')).toBeUndefined();
  });

  it('a host-only cookie is not cleared by a Domain one; a clear without Path matches any Path', async () => {
    await using w = await cookieWorker('demo.sid=S1; Path=/shop');
    const route = makeRoute(w.upstream);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    await get(port, '/login');
    await clear(port, '; Path=/shop; Domain=127.0.0.1');
    expect(route.sessions.peek('S1')).toBe(w.upstream);
    // Without Path the browser uses the request's directory, which the proxy does not compare.
    await clear(port, '');
    expect(route.sessions.peek('S1')).toBeUndefined();
  });

  it('before any binding was seen (e.g. after a restart) assumes Path=/ and no Domain', async () => {
    await using w = await cookieWorker('unused=1');
    const route = makeRoute(w.upstream);
    route.sessions.bind('S1', w.upstream, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    await clear(port, '; Path=/elsewhere');
    expect(route.sessions.peek('S1')).toBe(w.upstream);
    await clear(port, '; Path=/');
    expect(route.sessions.peek('S1')).toBeUndefined();
  });

  it('leaves the route cookie alone when the clear was for another cookie', async () => {
    await using w = await cookieWorker('demo.sid=S1; Path=/');
    const key = randomBytes(32);
    const route = makeRoute(w.upstream, {
      routeCookie: { name: 'handover_route', key, upstream: (id) => (id === 'web@0' ? w.upstream : undefined) },
    });
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    await get(port, '/login');
    const other = await clear(port, '; Path=/other');
    expect((other.headers['set-cookie'] ?? []).filter((l) => l.startsWith('handover_route='))).toEqual([]);
    const same = await clear(port, '; Path=/');
    expect((same.headers['set-cookie'] ?? []).filter((l) => l.startsWith('handover_route='))).toHaveLength(1);
  });
});

describe('several session cookies in one request', () => {
  const headers = (...lines: string[]) => lines.flatMap((line) => ['Cookie', line]);

  it('takes the first occurrence by default, as PHP, the Express `cookie` parser and Tomcat (in the usual case) do', () => {
    const route = makeRoute(undefined);
    expect(findSessionId(headers('demo.sid=A; demo.sid=B'), '/', route)).toBe('A');
    expect(findSessionId(headers('x=1', 'demo.sid=A', 'demo.sid=B'), '/', route)).toBe('A');
    // The first one is empty: the app sees no session, so neither does the proxy.
    expect(findSessionId(headers('demo.sid=; demo.sid=B'), '/', route)).toBeUndefined();
    expect(findSessionId(headers('demo.sid=""; demo.sid=B'), '/', route)).toBeUndefined();
  });

  it('takes the last occurrence when configured so (Django)', () => {
    const route = makeRoute(undefined, { sessionCookieDuplicates: 'last' });
    expect(findSessionId(headers('demo.sid=A; demo.sid=B'), '/', route)).toBe('B');
    expect(findSessionId(headers('demo.sid=A', 'x=1; demo.sid=C; y=2'), '/', route)).toBe('C');
    expect(findSessionId(headers('demo.sid=A; demo.sid='), '/', route)).toBeUndefined();
    expect(findSessionId(headers('x=1'), '/', route)).toBeUndefined();
  });

  it('routes by the one the app will use (real sockets)', async () => {
    await using a = await startUpstream('web@0', (_req, res) => res.end('a'));
    await using b = await startUpstream('web@1', (_req, res) => res.end('b'));
    await using target = await startUpstream('web@2', (_req, res) => res.end('target'));
    const first = makeRoute(target.upstream);
    const last = makeRoute(target.upstream, { sessionCookieDuplicates: 'last' });
    for (const route of [first, last]) {
      route.sessions.bind('A', a.upstream as Upstream, 60_000);
      route.sessions.bind('B', b.upstream as Upstream, 60_000);
    }
    await using proxy1 = await startProxy(first);
    await using proxy2 = await startProxy(last);
    const [p1, p2] = [proxy1.port, proxy2.port];
    expect((await get(p1, '/', { Cookie: 'demo.sid=A; demo.sid=B' })).body).toBe('a');
    expect((await get(p2, '/', { Cookie: 'demo.sid=A; demo.sid=B' })).body).toBe('b');
    expect((await get(p1, '/', { Cookie: 'demo.sid=; demo.sid=B' })).body).toBe('target');
  });
});
