import { type NextRequest, NextResponse } from 'next/server';
import { sessionFromCookie } from '@/server/session';
import { SESSION_COOKIE } from '@/server/session-cookie';

/**
 * First line of defence (Next 16's proxy, on the Node.js runtime): pages without a valid
 * session go to the login page, API calls get a 401. Pages, route handlers and server actions
 * check the session again themselves; this only spares them the obvious cases.
 */
export async function proxy(request: NextRequest): Promise<NextResponse> {
  const session = await sessionFromCookie(request.cookies.get(SESSION_COOKIE)?.value).catch(() => null);
  if (session !== null) return NextResponse.next();

  const { pathname, search } = request.nextUrl;
  if (pathname.startsWith('/api/')) {
    return NextResponse.json(
      {
        error: {
          message: 'log in to the Handover console first',
          code: -32001,
          data: { code: 'UNAUTHORIZED', httpStatus: 401, path: null },
        },
      },
      { status: 401, headers: { 'cache-control': 'no-store' } },
    );
  }
  const login = new URL('/login', request.url);
  if (pathname !== '/') login.searchParams.set('next', `${pathname}${search}`);
  return NextResponse.redirect(login, 303);
}

export const config = {
  // Everything but the login page itself and Next's static assets.
  matcher: ['/((?!login|_next/static|_next/image|favicon.ico|icon.svg).*)'],
};
