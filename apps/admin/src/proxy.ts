import { type NextRequest, NextResponse } from 'next/server';
import { sessionFromCookie } from '@/server/session';
import { SESSION_COOKIE } from '@/server/session-cookie';

/**
 * First line of defence (Next 16's proxy, on the Node.js runtime): pages without a valid
 * session go to the login page, API calls get a 401. Pages, route handlers and server actions
 * check the session again themselves; this only spares them the obvious cases.
 */
export async function proxy(request: NextRequest): Promise<NextResponse> {
  const { pathname, search } = request.nextUrl;
  if (pathname === '/login' || pathname.startsWith('/login/')) return withContentSecurityPolicy(request);
  const session = await sessionFromCookie(request.cookies.get(SESSION_COOKIE)?.value).catch(() => null);
  if (session !== null) return pathname.startsWith('/api/') ? NextResponse.next() : withContentSecurityPolicy(request);

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

/**
 * A strict Content-Security-Policy for pages: scripts only with this response's nonce (Next
 * puts it on its own scripts when it finds the policy on the request), nothing framed, forms
 * and connections only to the console itself. Styles stay 'unsafe-inline' for React's style
 * attributes; `next dev` also needs 'unsafe-eval'.
 */
function withContentSecurityPolicy(request: NextRequest): NextResponse {
  const nonce = Buffer.from(crypto.randomUUID()).toString('base64');
  const dev = process.env.NODE_ENV !== 'production';
  const policy = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set('x-nonce', nonce);
  requestHeaders.set('content-security-policy', policy);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set('content-security-policy', policy);
  return response;
}

export const config = {
  // Everything but Next's static assets (the login page too: it gets the policy, not the check).
  matcher: ['/((?!_next/static|_next/image|favicon.ico|icon.svg).*)'],
};
