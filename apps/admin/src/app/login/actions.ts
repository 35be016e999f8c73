'use server';

import { createHash, timingSafeEqual } from 'node:crypto';
import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { resolveAdminCredentials, verifyPassword } from '@handover/secrets';
import { handoverConfig } from '@/server/environment';
import { LoginThrottle } from '@/server/login-throttle';
import { cameOverHttps, issueSessionCookie } from '@/server/session';
import { SESSION_COOKIE } from '@/server/session-cookie';
import { safeNextPath } from './safe-next';

export interface LoginState {
  error: string | null;
  /** What the user typed, so a failed attempt does not clear the user name. */
  username: string;
}

// One per console process: the lockouts must outlive a single request.
const throttle = new LoginThrottle();

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

/** The address the request came from; the console binds to loopback, so usually 127.0.0.1. */
function clientAddress(requestHeaders: Headers): string {
  return (
    requestHeaders.get('x-forwarded-for')?.split(',')[0]?.trim() ||
    requestHeaders.get('x-real-ip')?.trim() ||
    'unknown'
  );
}

export async function login(_previous: LoginState, form: FormData): Promise<LoginState> {
  const username = String(form.get('username') ?? '').trim().slice(0, 64);
  const password = String(form.get('password') ?? '');
  const next = safeNextPath(form.get('next'));
  const requestHeaders = await headers();
  const key = `${clientAddress(requestHeaders)}|${username.toLowerCase()}`;

  const verdict = throttle.check(key);
  if (!verdict.allowed) {
    return { username, error: `Too many failed attempts. Wait ${waitText(verdict.retryAfterMs)} and try again.` };
  }
  if (username === '' || password === '') {
    return { username, error: 'Enter your user name and password.' };
  }

  let credentials;
  try {
    credentials = await resolveAdminCredentials({ dataDir: (await handoverConfig()).dataDir });
  } catch (error) {
    return { username, error: `The console cannot read its credentials: ${(error as Error).message}` };
  }

  // Both checked every time, so a wrong user name takes as long as a wrong password.
  const userOk = same(username, credentials.user);
  const passwordOk = await verifyPassword(credentials.verifier, password);
  if (!(userOk && passwordOk)) {
    const lockout = throttle.fail(key);
    if (lockout > 0) {
      return { username, error: `Wrong user name or password. Too many failed attempts: wait ${waitText(lockout)} and try again.` };
    }
    return { username, error: 'Wrong user name or password.' };
  }

  throttle.succeed(key);
  const cookie = await issueSessionCookie(credentials.user);
  (await cookies()).set(SESSION_COOKIE, cookie.value, {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    secure: cameOverHttps(requestHeaders),
    expires: cookie.expires,
  });
  redirect(next);
}
