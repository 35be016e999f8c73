import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Route, Upstream } from '../types';
import { findCookie } from './find-session';
import { nameIs } from './header-names';

/**
 * The route cookie (HAProxy's `cookie SRV insert`, Tomcat's jvmRoute): when the proxy binds a
 * new session it also tells the client which worker holds it, signed for that session id. The
 * session table stays the authority; the cookie is read only when the table does not know the
 * id, e.g. a binding made in the last moments before the supervisor was killed (`kill -9`), so
 * such a session still reaches its worker instead of being sent to the newest one.
 */
export interface RouteCookie {
  /** Cookie name, e.g. "handover_route". */
  readonly name: string;
  /** HMAC key (≥ 32 random bytes, kept in the data directory so it survives restarts). */
  readonly key: Buffer;
  /** The live worker with this id, or undefined. */
  readonly upstream: (id: string) => Upstream | undefined;
}

/** 96 bits of HMAC-SHA256, base64url: enough that guessing one is hopeless, short in a header. */
const SIGNATURE_CHARS = 16;

function signRoute(key: Buffer, upstreamId: string, sessionId: string): string {
  return createHmac('sha256', key).update(upstreamId).update('\n').update(sessionId).digest('base64url').slice(0, SIGNATURE_CHARS);
}

/** The cookie value: `<worker id>.<signature>` (ids are pool@generation, signatures have no dot). */
export function routeCookieValue(key: Buffer, upstreamId: string, sessionId: string): string {
  return `${upstreamId}.${signRoute(key, upstreamId, sessionId)}`;
}

/** The Set-Cookie line that tells a client its session lives on `upstreamId`. */
export function routeSetCookie(cookie: RouteCookie, upstreamId: string, sessionId: string, secure: boolean): string {
  return `${cookie.name}=${routeCookieValue(cookie.key, upstreamId, sessionId)}; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie line that removes the route cookie (the session ended). */
export function clearRouteSetCookie(cookie: RouteCookie): string {
  return `${cookie.name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`;
}

/** The worker id a route cookie value names, when its signature matches this session id. */
export function verifyRoute(key: Buffer, value: string, sessionId: string): string | undefined {
  const dot = value.lastIndexOf('.');
  if (dot <= 0 || value.length - dot - 1 !== SIGNATURE_CHARS) return undefined;
  const upstreamId = value.slice(0, dot);
  const expected = Buffer.from(signRoute(key, upstreamId, sessionId));
  const given = Buffer.from(value.slice(dot + 1));
  return given.length === expected.length && timingSafeEqual(given, expected) ? upstreamId : undefined;
}

/**
 * The worker a request's route cookie points at for `sessionId` — only when the signature is
 * right and that worker is alive and routable. On success the binding is restored, so the next
 * request is one map lookup again. Called only when the session table missed.
 */
export function recoverFromRouteCookie(route: Route, sessionId: string, raw: readonly string[]): Upstream | undefined {
  const cookie = route.routeCookie;
  if (cookie === undefined) return undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (!nameIs(raw[i] as string, 'cookie')) continue;
    const value = findCookie(raw[i + 1] as string, cookie.name);
    if (value === undefined) continue;
    const upstreamId = verifyRoute(cookie.key, value, sessionId);
    if (upstreamId === undefined) return undefined;
    const upstream = cookie.upstream(upstreamId);
    if (upstream === undefined || !upstream.routable) return undefined;
    route.sessions.bind(sessionId, upstream, route.idleTimeoutMs);
    return upstream;
  }
  return undefined;
}
