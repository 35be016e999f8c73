import { describe, expect, it } from 'vitest';
import { SESSION_TTL_MS, cookieFromHeader, signSession, verifySession } from '../src/server/session-cookie';

const SECRET = 'a-test-session-secret-of-at-least-32-characters';
const NOW = Date.parse('2026-01-01T12:00:00Z');
const SID = 'A'.repeat(43);

describe('session cookie', () => {
  it('round-trips a signed payload', async () => {
    const value = await signSession({ u: 'admin', exp: NOW + SESSION_TTL_MS, sid: SID }, SECRET);
    expect(value).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    await expect(verifySession(value, SECRET, NOW)).resolves.toEqual({ u: 'admin', exp: NOW + SESSION_TTL_MS, sid: SID });
  });

  it('refuses a tampered payload (a different user, a later expiry, another session id)', async () => {
    const value = await signSession({ u: 'admin', exp: NOW + 1000, sid: SID }, SECRET);
    const [, mac] = value.split('.');
    const forged = Buffer.from(JSON.stringify({ u: 'root', exp: NOW + 1000, sid: SID })).toString('base64url');
    const extended = Buffer.from(JSON.stringify({ u: 'admin', exp: NOW + 10 * SESSION_TTL_MS, sid: SID })).toString('base64url');
    const otherId = Buffer.from(JSON.stringify({ u: 'admin', exp: NOW + 1000, sid: 'B'.repeat(43) })).toString('base64url');
    await expect(verifySession(`${forged}.${mac}`, SECRET, NOW)).resolves.toBeNull();
    await expect(verifySession(`${extended}.${mac}`, SECRET, NOW)).resolves.toBeNull();
    await expect(verifySession(`${otherId}.${mac}`, SECRET, NOW)).resolves.toBeNull();
  });

  it('refuses a tampered or truncated MAC, another key, and garbage', async () => {
    const value = await signSession({ u: 'admin', exp: NOW + 1000, sid: SID }, SECRET);
    const last = value.at(-1) === 'A' ? 'B' : 'A';
    await expect(verifySession(value.slice(0, -1) + last, SECRET, NOW)).resolves.toBeNull();
    await expect(verifySession(value.slice(0, -2), SECRET, NOW)).resolves.toBeNull();
    await expect(verifySession(value, `${SECRET}-other`, NOW)).resolves.toBeNull();
    for (const junk of ['', '.', 'abc', 'a.b.c', `${value}.x`, '%%%.%%%', undefined, null]) {
      await expect(verifySession(junk, SECRET, NOW)).resolves.toBeNull();
    }
  });

  it('refuses an expired cookie', async () => {
    const value = await signSession({ u: 'admin', exp: NOW, sid: SID }, SECRET);
    await expect(verifySession(value, SECRET, NOW - 1)).resolves.not.toBeNull();
    await expect(verifySession(value, SECRET, NOW)).resolves.toBeNull();
    await expect(verifySession(value, SECRET, NOW + 1)).resolves.toBeNull();
  });

  it('refuses a validly signed payload of the wrong shape (a cookie of the previous format without a session id too)', async () => {
    // Sign something that is not {u, exp, sid} with the right key, the way a bug elsewhere might.
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const signed = async (payload: unknown) => {
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      const mac = Buffer.from(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body))).toString('base64url');
      return `${body}.${mac}`;
    };
    await expect(verifySession(await signed({ user: 'admin' }), SECRET, NOW)).resolves.toBeNull();
    await expect(verifySession(await signed({ u: 'admin', exp: NOW + 1000 }), SECRET, NOW)).resolves.toBeNull();
    await expect(verifySession(await signed({ u: 'admin', exp: NOW + 1000, sid: 'short' }), SECRET, NOW)).resolves.toBeNull();
    await expect(verifySession(await signed({ u: 'admin', exp: NOW + 1000, sid: SID }), SECRET, NOW)).resolves.not.toBeNull();
  });

  it('reads the cookie out of a Cookie header', () => {
    expect(cookieFromHeader('a=1; handover_console=x.y; b=2', 'handover_console')).toBe('x.y');
    expect(cookieFromHeader('a=1', 'handover_console')).toBeNull();
    expect(cookieFromHeader(null, 'handover_console')).toBeNull();
  });
});
