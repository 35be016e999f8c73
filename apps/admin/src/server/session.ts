import { ADMIN_USER_ENV, DEFAULT_ADMIN_USER, resolveSessionSecret } from '@handover/secrets';
import { handoverConfig } from './environment';
import { SESSION_COOKIE, SESSION_TTL_MS, cookieFromHeader, signSession, verifySession } from './session-cookie';

/**
 * Sessions as the rest of the console sees them. Shared by proxy.ts, route handlers, server
 * components and server actions (so not `server-only`; it is never imported by client code).
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

/** The configured admin user; a cookie for any other name (the user was renamed) is void. */
export function configuredAdminUser(env: NodeJS.ProcessEnv = process.env): string {
  return env[ADMIN_USER_ENV]?.trim() || DEFAULT_ADMIN_USER;
}

/** The session a cookie value stands for, or null (missing, tampered, expired, other user). */
export async function sessionFromCookie(value: string | null | undefined): Promise<ConsoleSession | null> {
  if (value === null || value === undefined || value === '') return null;
  const payload = await verifySession(value, await sessionSecret());
  if (payload === null || payload.u !== configuredAdminUser()) return null;
  return { user: payload.u, expiresAt: payload.exp };
}

/** For route handlers: the session of a request (from its Cookie header). */
export function sessionFromRequest(request: Request): Promise<ConsoleSession | null> {
  return sessionFromCookie(cookieFromHeader(request.headers.get('cookie'), SESSION_COOKIE));
}

export async function issueSessionCookie(user: string, now: number = Date.now()): Promise<{ value: string; expires: Date }> {
  const exp = now + SESSION_TTL_MS;
  return { value: await signSession({ u: user, exp }, await sessionSecret()), expires: new Date(exp) };
}

/** Whether the browser reached us over https (directly or through a TLS-terminating proxy). */
export function cameOverHttps(headers: Headers, url?: string): boolean {
  const forwarded = headers.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
  if (forwarded !== undefined && forwarded !== '') return forwarded === 'https';
  return url !== undefined && url.startsWith('https:');
}
