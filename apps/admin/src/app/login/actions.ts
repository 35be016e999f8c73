'use server';

import { createHash, timingSafeEqual } from 'node:crypto';
import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { resolveAdminCredentials, verifyPassword } from '@handover/secrets';
import { handoverConfig } from '@/server/environment';
import { cameOverHttps, trustedProxyHops } from '@/server/forwarded';
import { LoginGuard, throttleKey } from '@/server/login-throttle';
import { issueSessionCookie, revokeSessionCookie } from '@/server/session';
import { SESSION_COOKIE } from '@/server/session-cookie';
import { safeNextPath } from './safe-next';

export interface LoginState {
  error: string | null;
  /** What the user typed, so a failed attempt does not clear the user name. */
  username: string;
}

// One per console process: the lockouts must outlive a single request.
const guard = new LoginGuard();

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Compares in constant time: hashing first makes the lengths equal and hides them. */
function same(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

function waitText(ms: number): string {
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

export async function login(_previous: LoginState, form: FormData): Promise<LoginState> {
  const username = String(form.get('username') ?? '').trim().slice(0, 64);
  const password = String(form.get('password') ?? '');
  const next = safeNextPath(form.get('next'));
  const requestHeaders = await headers();
  // X-Forwarded-* only count when HANDOVER_ADMIN_TRUST_PROXY says a proxy writes them.
  const hops = trustedProxyHops();
  const key = throttleKey(requestHeaders, username, hops);

  if (username === '' || password === '') {
    return { username, error: 'Enter your user name and password.' };
  }

  let result;
  try {
    result = await guard.attempt(key, async () => {
      const credentials = await resolveAdminCredentials({ dataDir: (await handoverConfig()).dataDir });
      // Both checked every time, so a wrong user name takes as long as a wrong password.
      const userOk = same(username, credentials.user);
      const passwordOk = await verifyPassword(credentials.verifier, password);
      return userOk && passwordOk;
    });
  } catch (error) {
    return { username, error: `The console cannot read its credentials: ${(error as Error).message}` };
  }
  if (result.outcome === 'locked') {
    const who = result.scope === 'global' ? 'Too many failed logins on this console' : 'Too many failed attempts';
    return { username, error: `${who}. Wait ${waitText(result.retryAfterMs)} and try again.` };
  }
  if (result.outcome === 'wrong') {
    if (result.lockoutMs > 0) {
      return { username, error: `Wrong user name or password. Too many failed attempts: wait ${waitText(result.lockoutMs)} and try again.` };
    }
    return { username, error: 'Wrong user name or password.' };
  }

  const jar = await cookies();
  let cookie;
  try {
    // A session this browser still had ends: one login, one live session.
    await revokeSessionCookie(jar.get(SESSION_COOKIE)?.value);
    // The attempt succeeded, so `username` is exactly the configured user.
    cookie = await issueSessionCookie(username);
  } catch (error) {
    return { username, error: `The console cannot record the session: ${(error as Error).message}` };
  }
  jar.set(SESSION_COOKIE, cookie.value, {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    // Only when a trusted proxy says the browser came over https (next start has no TLS).
    secure: cameOverHttps(requestHeaders, hops),
    expires: cookie.expires,
  });
  redirect(next);
}
