import { afterEach, describe, expect, it, vi } from 'vitest';
import { cameOverHttps, forwardedValue, requestHost, trustedProxyHops } from '../src/server/forwarded';
import { GlobalFailureCap, LoginGuard, throttleKey } from '../src/server/login-throttle';

/** Headers as Next hands them to a server action: it fills X-Forwarded-For only when absent. */
const headers = (values: Record<string, string>) => new Headers(values);

afterEach(() => vi.restoreAllMocks());

describe('HANDOVER_ADMIN_TRUST_PROXY', () => {
  it('trusts nothing unless told, one proxy for 1/true, n for n', () => {
    expect(trustedProxyHops({})).toBe(0);
    for (const off of ['', ' ', '0', 'false', 'no', 'OFF']) expect(trustedProxyHops({ HANDOVER_ADMIN_TRUST_PROXY: off })).toBe(0);
    for (const on of ['1', 'true', 'Yes', 'on']) expect(trustedProxyHops({ HANDOVER_ADMIN_TRUST_PROXY: on })).toBe(1);
    expect(trustedProxyHops({ HANDOVER_ADMIN_TRUST_PROXY: '2' })).toBe(2);
  });

  it('a value it does not understand trusts nothing, and says so', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(trustedProxyHops({ HANDOVER_ADMIN_TRUST_PROXY: 'nginx' })).toBe(0);
    expect(trustedProxyHops({ HANDOVER_ADMIN_TRUST_PROXY: '99' })).toBe(0);
    expect(error).toHaveBeenCalled();
    expect(String(error.mock.calls[0]![0])).toContain('HANDOVER_ADMIN_TRUST_PROXY');
  });
});

describe('forwarded headers', () => {
  it('are ignored without a trusted proxy', () => {
    const forged = headers({ 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', host: '127.0.0.1:3000' });
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(forwardedValue(forged, 'x-forwarded-for', 0)).toBeNull();
    expect(cameOverHttps(forged, 0)).toBe(false);
    expect(requestHost(forged, 0)).toBe('127.0.0.1:3000');
  });

  it('behind a trusted proxy, take what the proxy nearest the client wrote (the entries left of it are the client’s word)', () => {
    // nginx `proxy_add_x_forwarded_for`: the client's own header, then the address nginx saw.
    const appended = headers({ 'x-forwarded-for': '10.9.9.9, 198.51.100.7' });
    expect(forwardedValue(appended, 'x-forwarded-for', 1)).toBe('198.51.100.7');
    // Two proxies: the outer one appended the client, the inner one the outer proxy.
    expect(forwardedValue(headers({ 'x-forwarded-for': '10.9.9.9, 198.51.100.7, 10.0.0.2' }), 'x-forwarded-for', 2)).toBe('198.51.100.7');
    // A proxy that overwrites: one entry, whatever hops says.
    expect(forwardedValue(headers({ 'x-forwarded-for': '198.51.100.7' }), 'x-forwarded-for', 2)).toBe('198.51.100.7');
    expect(forwardedValue(headers({ 'x-forwarded-for': ' , ' }), 'x-forwarded-for', 1)).toBeNull();
    expect(forwardedValue(headers({}), 'x-forwarded-for', 1)).toBeNull();
  });

  it('https only when a trusted proxy says so', () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(cameOverHttps(headers({ 'x-forwarded-proto': 'https' }), 1)).toBe(true);
    expect(cameOverHttps(headers({ 'x-forwarded-proto': 'HTTPS' }), 1)).toBe(true);
    expect(cameOverHttps(headers({ 'x-forwarded-proto': 'http' }), 1)).toBe(false);
    expect(cameOverHttps(headers({ 'x-forwarded-proto': 'https, http' }), 1)).toBe(false);
    expect(cameOverHttps(headers({}), 1)).toBe(false);
    expect(cameOverHttps(headers({ 'x-forwarded-proto': 'https' }), 0)).toBe(false);
    expect(requestHost(headers({ 'x-forwarded-host': 'console.example.com', host: '127.0.0.1:3000' }), 1)).toBe('console.example.com');
  });
});

describe('the login throttle key', () => {
  it('without a trusted proxy: the user name alone, so a forged X-Forwarded-For does not start over', () => {
    const a = throttleKey(headers({ 'x-forwarded-for': '203.0.113.1' }), 'Admin', 0);
    const b = throttleKey(headers({ 'x-forwarded-for': '203.0.113.2, 10.0.0.1' }), 'admin', 0);
    const none = throttleKey(headers({}), 'admin', 0);
    expect(a).toBe('user:admin');
    expect(b).toBe(a);
    expect(none).toBe(a);
    expect(throttleKey(headers({}), 'other', 0)).not.toBe(a);
  });

  it('behind a trusted proxy: the address the proxy saw plus the user name', () => {
    const key = (xff: string) => throttleKey(headers({ 'x-forwarded-for': xff }), 'admin', 1);
    expect(key('198.51.100.7')).toBe('client:198.51.100.7|admin');
    // What the client prepends does not matter; what the proxy appended does.
    expect(key('203.0.113.1, 198.51.100.7')).toBe(key('198.51.100.7'));
    expect(key('203.0.113.2, 198.51.100.7')).toBe(key('198.51.100.7'));
    expect(key('198.51.100.8')).not.toBe(key('198.51.100.7'));
    // The proxy sent none (a request that bypassed it): per user, like without a proxy.
    expect(throttleKey(headers({}), 'admin', 1)).toBe('user:admin');
  });

  it('a forged X-Forwarded-For does not reset a lockout (the guard as the login action uses it)', async () => {
    const guard = new LoginGuard();
    const now = 1_000_000;
    for (let i = 0; i < 5; i++) {
      await guard.attempt(throttleKey(headers({ 'x-forwarded-for': `203.0.113.${i}` }), 'admin', 0), async () => false, () => now);
    }
    const next = throttleKey(headers({ 'x-forwarded-for': '203.0.113.200' }), 'admin', 0);
    expect(guard.check(next, now)).toEqual({ allowed: false, retryAfterMs: 30_000, scope: 'key' });
  });
});

describe('the global cap on failed logins', () => {
  it('refuses every key once maxFailures fell within the window, until the oldest leaves it', () => {
    const cap = new GlobalFailureCap({ maxFailures: 3, windowMs: 1000 });
    cap.fail(0);
    cap.fail(100);
    expect(cap.check(200)).toEqual({ allowed: true });
    cap.fail(200);
    expect(cap.check(300)).toEqual({ allowed: false, retryAfterMs: 700 });
    expect(cap.check(1000)).toEqual({ allowed: true });
  });

  it('the guard applies it across user names and addresses', async () => {
    const guard = new LoginGuard({ cap: { maxFailures: 10, windowMs: 60_000 } });
    for (let i = 0; i < 10; i++) await guard.attempt(`user:guess-${i}`, async () => false, () => 0);
    expect(guard.check('user:admin', 1)).toEqual({ allowed: false, retryAfterMs: 59_999, scope: 'global' });
    expect(guard.check('user:admin', 60_000)).toEqual({ allowed: true });
  });
});
