import 'server-only';
import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { type ConsoleSession, sessionFromCookie } from './session';
import { SESSION_COOKIE } from './session-cookie';

/** The session of the request being rendered (server components, server actions). */
export async function currentSession(): Promise<ConsoleSession | null> {
  const jar = await cookies();
  return sessionFromCookie(jar.get(SESSION_COOKIE)?.value);
}

/**
 * For pages and actions: the session, or a redirect to the login page. proxy.ts checks this
 * too, but every entry point checks again by itself so a matcher mistake cannot open a hole.
 */
export async function requireSession(next = '/'): Promise<ConsoleSession> {
  const session = await currentSession();
  if (session === null) redirect(`/login?next=${encodeURIComponent(next)}`);
  return session;
}
