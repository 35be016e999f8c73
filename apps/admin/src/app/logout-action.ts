'use server';

import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { revokeSessionCookie } from '@/server/session';
import { SESSION_COOKIE } from '@/server/session-cookie';

/**
 * Ends the console session (a POST from the header's form; never a GET a link could trigger):
 * the session leaves the session store, so a copy of the cookie is refused from now on, and
 * the browser's cookie is deleted.
 */
export async function logout(): Promise<void> {
  const jar = await cookies();
  try {
    await revokeSessionCookie(jar.get(SESSION_COOKIE)?.value);
  } catch (error) {
    // The cookie still goes; the session then lives on until its expiry. Said, never hidden.
    console.error(`admin console: logout could not end the session in the session store: ${(error as Error).message}`);
  }
  jar.delete({ name: SESSION_COOKIE, path: '/' });
  redirect('/login');
}
