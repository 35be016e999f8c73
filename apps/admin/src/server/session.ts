import path from 'node:path';
import { ADMIN_USER_ENV, DEFAULT_ADMIN_USER, resolveSessionSecret } from '@handover/secrets';
import { handoverConfig } from './environment';
import { SESSION_COOKIE, SESSION_TTL_MS, cookieFromHeader, signSession, verifySession } from './session-cookie';
import { SESSION_STORE_FILE, SessionStore } from './session-store';

/**
 * Sessions as the rest of the console sees them. Shared by proxy.ts, route handlers, server
 * components and server actions (so not `server-only`; it is never imported by client code).
 * A session is valid when its cookie is signed with the console's key, not past its absolute
 * expiry (12 h after login, never extended), for the configured user, and still live in the
 * session store (`<dataDir>/console-sessions.json`): logging out removes it from there.
 */

export interface ConsoleSession {
  user: string;
  expiresAt: number;
}

let secret: Promise<string> | null = null;

/** The key that signs session cookies (`HANDOVER_SESSION_SECRET` or `<dataDir>/console-session-key`). */
export function sessionSecret(): Promise<string> {
  if (secret === null) {
    const loading = handoverConfig().then((config) => resolveSessionSecret({ dataDir: config.dataDir }));
    secret = loading;
    loading.catch(() => {
      if (secret === loading) secret = null;
    });
  }
  return secret;
}

let store: Promise<SessionStore> | null = null;

/** The live sessions of this console (`<dataDir>/console-sessions.json`). */
export function sessionStore(): Promise<SessionStore> {
  if (store === null) {
    const loading = handoverConfig().then((config) => new SessionStore(path.join(path.resolve(config.dataDir), SESSION_STORE_FILE)));
    store = loading;
    loading.catch(() => {
      if (store === loading) store = null;
    });
  }
  return store;
}

/** The configured admin user; a cookie for any other name (the user was renamed) is void. */
export function configuredAdminUser(env: NodeJS.ProcessEnv = process.env): string {
  return env[ADMIN_USER_ENV]?.trim() || DEFAULT_ADMIN_USER;
}

let lastStoreError: string | null = null;

/**
 * The session a cookie value stands for, or null (missing, tampered, expired, other user,
 * logged out). Fails closed: when the session store cannot be read, nobody is logged in (said
 * on stderr, once per distinct error).
 */
export async function sessionFromCookie(value: string | null | undefined): Promise<ConsoleSession | null> {
  if (value === null || value === undefined || value === '') return null;
  const payload = await verifySession(value, await sessionSecret());
  if (payload === null || payload.u !== configuredAdminUser()) return null;
  try {
    if (!(await (await sessionStore()).isLive(payload.sid, payload.u))) return null;
  } catch (error) {
    const message = (error as Error).message;
    if (message !== lastStoreError) {
      lastStoreError = message;
      console.error(`admin console: cannot check a session, so it is refused: ${message}`);
    }
    return null;
  }
  return { user: payload.u, expiresAt: payload.exp };
}

/** For route handlers: the session of a request (from its Cookie header). */
export function sessionFromRequest(request: Request): Promise<ConsoleSession | null> {
  return sessionFromCookie(cookieFromHeader(request.headers.get('cookie'), SESSION_COOKIE));
}

/** Starts a session: recorded in the store, then signed into a cookie value. */
export async function issueSessionCookie(user: string, now: number = Date.now()): Promise<{ value: string; expires: Date }> {
  const exp = now + SESSION_TTL_MS;
  const key = await sessionSecret();
  const sid = await (await sessionStore()).create(user, exp, now);
  return { value: await signSession({ u: user, exp, sid }, key), expires: new Date(exp) };
}

/**
 * Ends the session a cookie value stands for (logout), whoever holds a copy of the cookie.
 * Only a cookie we signed can name a session to end. True when a live session was ended.
 */
export async function revokeSessionCookie(value: string | null | undefined): Promise<boolean> {
  if (value === null || value === undefined || value === '') return false;
  const payload = await verifySession(value, await sessionSecret());
  if (payload === null) return false;
  return (await sessionStore()).revoke(payload.sid);
}
