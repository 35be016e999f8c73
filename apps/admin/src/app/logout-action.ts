'use server';

import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { SESSION_COOKIE } from '@/server/session-cookie';

/** Ends the console session (a POST from the header's form; never a GET a link could trigger). */
export async function logout(): Promise<void> {
  (await cookies()).delete({ name: SESSION_COOKIE, path: '/' });
  redirect('/login');
}
