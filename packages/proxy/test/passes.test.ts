import { describe, expect, it } from 'vitest';
import { SessionTable } from '@handover/session-table';
import {
  chooseUpstream,
  connectionTokens,
  findCookie,
  findSessionId,
  isHopByHop,
  isInternal,
  parseSessionReport,
  parseSetCookieEffect,
  pathSessionId,
  type Upstream,
} from '../src/index';
import { responseHead } from '../src/engine/heads';
import { makeRoute } from './helpers';
import { Lease } from '@handover/process-table';

function up(id: string, routable = true): Upstream {
  return { id, host: '127.0.0.1', port: 1, routable, draining: false, lease: new Lease() };
}

describe('findCookie', () => {
  it('finds a cookie anywhere in the header', () => {
    expect(findCookie('demo.sid=abc', 'demo.sid')).toBe('abc');
    expect(findCookie('a=1; demo.sid=abc; b=2', 'demo.sid')).toBe('abc');
    expect(findCookie('a=1;demo.sid=abc', 'demo.sid')).toBe('abc');
    expect(findCookie('a=1;   demo.sid=abc  ', 'demo.sid')).toBe('abc');
  });
  it('matches whole names only, case-sensitively', () => {
    expect(findCookie('xdemo.sid=1; demo.sidx=2', 'demo.sid')).toBeUndefined();
    expect(findCookie('DEMO.SID=1', 'demo.sid')).toBeUndefined();
    expect(findCookie('a=demo.sid=1', 'demo.sid')).toBeUndefined();
  });
  it('unquotes, skips empty values, takes the first non-empty', () => {
    expect(findCookie('demo.sid="q v"', 'demo.sid')).toBe('q v');
    expect(findCookie('demo.sid=; demo.sid=second', 'demo.sid')).toBe('second');
    expect(findCookie('demo.sid=first; demo.sid=second', 'demo.sid')).toBe('first');
    expect(findCookie('', 'demo.sid')).toBeUndefined();
    expect(findCookie('demo.sid', 'demo.sid')).toBeUndefined();
    expect(findCookie(';;;', 'demo.sid')).toBeUndefined();
  });
  it('keeps = inside values (signed express-session ids)', () => {
    expect(findCookie('connect.sid=s%3Aabc.def=; x=1', 'connect.sid')).toBe('s%3Aabc.def=');
  });
});

describe('pathSessionId', () => {
  it('reads a servlet-style path parameter', () => {
    expect(pathSessionId('/app/page;jsessionid=ABC123', 'jsessionid')).toBe('ABC123');
    expect(pathSessionId('/app/page;jsessionid=ABC123?x=1', 'jsessionid')).toBe('ABC123');
    expect(pathSessionId('/app;jsessionid=ABC/more', 'jsessionid')).toBe('ABC');
    expect(pathSessionId('/app;v=1;JSESSIONID=ABC;x=2', 'jsessionid')).toBe('ABC');
  });
  it('ignores the query string and absent or empty values', () => {
    expect(pathSessionId('/app?;jsessionid=ABC', 'jsessionid')).toBeUndefined();
    expect(pathSessionId('/app;jsessionid=', 'jsessionid')).toBeUndefined();
    expect(pathSessionId('/app;jsessionidx=1', 'jsessionid')).toBeUndefined();
    expect(pathSessionId('/app', 'jsessionid')).toBeUndefined();
  });
});

describe('findSessionId', () => {
  it('prefers the cookie, falls back to the path parameter when configured', () => {
    const route = makeRoute(undefined, { sessionCookie: 'JSESSIONID', sessionPathParameter: 'jsessionid' });
    expect(findSessionId(['Host', 'x', 'Cookie', 'JSESSIONID=C1'], '/a;jsessionid=P1', route)).toBe('C1');
    expect(findSessionId(['Host', 'x', 'cookie', 'a=1', 'COOKIE', 'JSESSIONID=C2'], '/a', route)).toBe('C2');
    expect(findSessionId(['Host', 'x'], '/a;jsessionid=P1', route)).toBe('P1');
    expect(findSessionId(['Host', 'x'], '/a;jsessionid=P1', makeRoute(undefined, { sessionCookie: 'JSESSIONID' }))).toBeUndefined();
  });
});

describe('chooseUpstream', () => {
  it('routes a live session to its owner, even draining; anything else to the target', () => {
    const old = up('web@0');
    const fresh = up('web@1');
    const route = makeRoute(fresh);
    route.sessions.bind('s1', old, 1000);
    old.draining = true;
    expect(chooseUpstream(route, 's1', [])).toBe(old);
    expect(chooseUpstream(route, 'unknown', [])).toBe(fresh);
    expect(chooseUpstream(route, undefined, [])).toBe(fresh);
    old.routable = false;
    expect(chooseUpstream(route, 's1', [])).toBe(fresh);
    route.target = undefined;
    expect(chooseUpstream(route, 's1', [])).toBeUndefined();
    route.target = up('web@2', false);
    expect(chooseUpstream(route, undefined, [])).toBeUndefined();
  });
  it('is one lookup that refreshes the idle timeout', () => {
    let now = 0;
    const owner = up('web@0');
    const route = makeRoute(undefined, { sessions: new SessionTable<Upstream>({ now: () => now }) });
    route.sessions.bind('s', owner, 100);
    now = 90;
    expect(chooseUpstream(route, 's', [])).toBe(owner);
    now = 180;
    expect(chooseUpstream(route, 's', [])).toBe(owner);
  });
});

describe('parseSetCookieEffect', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  it('ignores other cookies', () => {
    expect(parseSetCookieEffect('other=1; Path=/', 'demo.sid', now)).toBeUndefined();
    expect(parseSetCookieEffect('demo.sidx=1', 'demo.sid', now)).toBeUndefined();
  });
  it('reads a set cookie, with or without attributes', () => {
    expect(parseSetCookieEffect('demo.sid=abc', 'demo.sid', now)).toMatchObject({ value: 'abc', clear: false, maxAgeMs: undefined });
    expect(parseSetCookieEffect('demo.sid=abc; Path=/; HttpOnly; Max-Age=600', 'demo.sid', now)).toMatchObject({ value: 'abc', clear: false, maxAgeMs: 600_000 });
    expect(parseSetCookieEffect('demo.sid="abc"; Expires=Wed, 01 Jan 2031 00:00:00 GMT', 'demo.sid', now)).toMatchObject({ value: 'abc', clear: false, maxAgeMs: undefined });
  });
  it('recognises every way of clearing', () => {
    expect(parseSetCookieEffect('demo.sid=; Path=/', 'demo.sid', now)?.clear).toBe(true);
    expect(parseSetCookieEffect('demo.sid=abc; Max-Age=0', 'demo.sid', now)?.clear).toBe(true);
    expect(parseSetCookieEffect('demo.sid=abc; max-age=-1', 'demo.sid', now)?.clear).toBe(true);
    expect(parseSetCookieEffect('demo.sid=abc; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'demo.sid', now)?.clear).toBe(true);
  });
  it('lets Max-Age win over Expires and ignores a malformed Max-Age', () => {
    expect(parseSetCookieEffect('demo.sid=abc; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60', 'demo.sid', now)?.clear).toBe(false);
    expect(parseSetCookieEffect('demo.sid=abc; Max-Age=soon', 'demo.sid', now)).toMatchObject({ value: 'abc', clear: false, maxAgeMs: undefined });
  });
});

describe('parseSessionReport', () => {
  it('parses one or several entries', () => {
    expect(parseSessionReport('abc; ttl=1800')).toEqual([{ id: 'abc', ttlMs: 1_800_000 }]);
    expect(parseSessionReport('a;ttl=60, b; ttl=0 ,c')).toEqual([
      { id: 'a', ttlMs: 60_000 },
      { id: 'b', ttlMs: 0 },
      { id: 'c', ttlMs: undefined },
    ]);
    expect(parseSessionReport('a; TTL=1.5')).toEqual([{ id: 'a', ttlMs: 1500 }]);
  });
  it('skips malformed entries', () => {
    expect(parseSessionReport('')).toEqual([]);
    expect(parseSessionReport(' ; ttl=5')).toEqual([]);
    expect(parseSessionReport('a b; ttl=5, ok')).toEqual([{ id: 'ok', ttlMs: undefined }]);
    expect(parseSessionReport('a; ttl=-5, b; ttl=abc, c; ttl=7')).toEqual([{ id: 'c', ttlMs: 7000 }]);
  });
});

describe('header names', () => {
  it('knows the hop-by-hop set, any case', () => {
    for (const name of ['Connection', 'keep-alive', 'Proxy-Connection', 'TE', 'Trailer', 'Transfer-Encoding', 'UPGRADE']) {
      expect(isHopByHop(name), name).toBe(true);
    }
    for (const name of ['Content-Length', 'Host', 'Cookie', 'Trailers', 'tee']) expect(isHopByHop(name), name).toBe(false);
  });
  it('knows internal headers', () => {
    expect(isInternal('X-Handover-Session')).toBe(true);
    expect(isInternal('x-handover-anything')).toBe(true);
    expect(isInternal('X-Handover')).toBe(false);
    expect(isInternal('X-Forwarded-For')).toBe(false);
  });
  it('collects extra names listed in Connection', () => {
    expect(connectionTokens(['Connection', 'keep-alive'])).toBeUndefined();
    expect(connectionTokens(['Connection', 'close, X-Foo', 'connection', ' x-bar ,Upgrade'])).toEqual(['x-foo', 'x-bar']);
  });
  it('never lets Connection name framing or routing headers', () => {
    expect(connectionTokens(['Connection', 'Content-Length, transfer-encoding, Host, Cookie, Set-Cookie, X-A'])).toEqual(['x-a']);
  });
  it('filters a response header list', () => {
    const raw = [
      'Content-Type', 'text/plain',
      'Connection', 'keep-alive, X-Secret',
      'Keep-Alive', 'timeout=5',
      'X-Secret', 'hidden',
      'Transfer-Encoding', 'chunked',
      'X-Handover-Session', 'a; ttl=5',
      'Set-Cookie', 'a=1',
      'Set-Cookie', 'b=2',
    ];
    // The worker chunked it; the proxy frames it again itself.
    // The worker's own Keep-Alive is dropped; the proxy's (how its heads end) is what the client gets.
    expect(responseHead(200, 'OK', raw, false, false, false, undefined, 'Keep-Alive: timeout=5\r\n\r\n').head).toBe(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\n\r\n',
    );
    expect(responseHead(204, 'No Content', [], true, false, true, undefined, 'Keep-Alive: timeout=5\r\n\r\n').head).toBe('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
  });
});

describe('isSafeNodeVersion', () => {
  it('accepts 20.19.2+ and 22+, refuses older lines and 21', async () => {
    const { isSafeNodeVersion, assertSafeNodeVersion } = await import('../src/index');
    for (const ok of ['20.19.2', 'v20.20.2', '20.19.10', '22.0.0', '24.3.1', '26.0.0']) expect(isSafeNodeVersion(ok)).toBe(true);
    for (const old of ['20.19.1', '20.9.0', '18.20.4', '21.7.3', 'v19.0.0']) expect(isSafeNodeVersion(old)).toBe(false);
    expect(() => assertSafeNodeVersion('20.18.0')).toThrow(/Node\.js 20\.18\.0 is too old.*20\.19\.2/);
  });
});
