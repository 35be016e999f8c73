import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Route, Upstream } from '../types';
import { findCookie } from './find-session';
import { nameIs } from './header-names';

/**
 * The route cookie (HAProxy's `cookie SRV insert`, Tomcat's jvmRoute): when the proxy binds a
 * new session it also tells the client which worker holds it, signed for that session id and
 * its issue time. The session table stays the authority; the cookie is read only when the table
 * does not know the id: a binding made in the last moments before the supervisor was killed
 * (`kill -9`), or one the table evicted when it was full. Such a session then still reaches its
 * worker instead of being sent to the newest one.
 *
 * It is honoured only within the pool's idle timeout of its issue time, so an old copy cannot
 * revive a session that has long ended on a detached worker (nor keep that worker alive). An
 * active session keeps a valid one: the proxy sends a fresh cookie on a response once the one it
 * last sent for the session is older than half the idle timeout (HAProxy's `maxidle`). That costs
 * one table read per response to a request with a session id (`SessionTable.renew`: no clock
 * read, no parse of the request's cookies). A session idle for longer than the timeout whose binding the table lost goes to the
 * newest worker, which is what the idle timeout means anyway.
 */
export interface RouteCookie {
  /** Cookie name, e.g. "handover_route". */
  readonly name: string;
  /** HMAC key (≥ 32 random bytes, kept in the data directory so it survives restarts). */
  readonly key: Buffer;
  /** The live worker with this id, or undefined. */
  readonly upstream: (id: string) => Upstream | undefined;
  /** Clock in ms (tests); default Date.now. */
  readonly now?: () => number;
}

/** What a valid route cookie says. */
export interface RouteClaim {
  upstreamId: string;
  /** Issue time, seconds since the epoch. */
  issuedSec: number;
}

/** 96 bits of HMAC-SHA256, base64url: enough that guessing one is hopeless, short in a header. */
const SIGNATURE_CHARS = 16;
/** A cookie issued up to this far in the future is accepted (clock steps between restarts). */
const SKEW_SEC = 60;
const ISSUED = /^[0-9a-z]{1,8}$/;

function signRoute(key: Buffer, upstreamId: string, sessionId: string, issued: string): string {
  return createHmac('sha256', key)
    .update(upstreamId)
    .update('\n')
    .update(sessionId)
    .update('\n')
    .update(issued)
    .digest('base64url')
    .slice(0, SIGNATURE_CHARS);
}

/**
 * The cookie value: `<worker id>.<issued, seconds in base 36>.<signature>` (worker ids are
 * pool@generation and have no dot; neither have base 36 nor base64url).
 */
export function routeCookieValue(key: Buffer, upstreamId: string, sessionId: string, issuedSec: number): string {
  const issued = issuedSec.toString(36);
  return `${upstreamId}.${issued}.${signRoute(key, upstreamId, sessionId, issued)}`;
}

/** The Set-Cookie line that tells a client its session lives on `upstreamId` (as of `issuedSec`). */
export function routeSetCookie(cookie: RouteCookie, upstreamId: string, sessionId: string, issuedSec: number, secure: boolean): string {
  return `${cookie.name}=${routeCookieValue(cookie.key, upstreamId, sessionId, issuedSec)}; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie line that removes the route cookie (the session ended). */
export function clearRouteSetCookie(cookie: RouteCookie): string {
  return `${cookie.name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`;
}

/**
 * What a route cookie value claims, when its signature matches this session id; undefined for
 * anything else, the old two-part format included. Its age is the caller's to judge.
 */
export function verifyRoute(key: Buffer, value: string, sessionId: string): RouteClaim | undefined {
  const sigDot = value.lastIndexOf('.');
  if (sigDot <= 0 || value.length - sigDot - 1 !== SIGNATURE_CHARS) return undefined;
  const timeDot = value.lastIndexOf('.', sigDot - 1);
  if (timeDot <= 0) return undefined;
  const issued = value.slice(timeDot + 1, sigDot);
  if (!ISSUED.test(issued)) return undefined;
  const upstreamId = value.slice(0, timeDot);
  const expected = Buffer.from(signRoute(key, upstreamId, sessionId, issued));
  const given = Buffer.from(value.slice(sigDot + 1));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return { upstreamId, issuedSec: parseInt(issued, 36) };
}

/** The cookie's clock, in ms. */
export function routeNow(cookie: RouteCookie): number {
  return cookie.now === undefined ? Date.now() : cookie.now();
}

/**
 * Sessions ended by a report that no response to their own client carried (the side channel, or
 * a report on another client's response): their route cookie was never cleared, so a cookie
 * issued before the end must not revive them. Kept per route until such a cookie has expired
 * anyway (the idle timeout), at most MAX_ENDED (the oldest go first: at worst one such client is
 * routed to the old worker once more, as before this record existed).
 */
const endedByReport = new WeakMap<Route, Map<string, number>>();
const MAX_ENDED = 65_536;

export function forbidRevival(route: Route, sessionId: string): void {
  const cookie = route.routeCookie;
  if (cookie === undefined) return;
  let ended = endedByReport.get(route);
  if (ended === undefined) {
    ended = new Map();
    endedByReport.set(route, ended);
  }
  ended.delete(sessionId);
  ended.set(sessionId, Math.floor(routeNow(cookie) / 1000));
  if (ended.size > MAX_ENDED) ended.delete(ended.keys().next().value as string);
}

/** Whether a cookie issued at `issuedSec` is older than the reported end of its session. */
function endedSince(route: Route, sessionId: string, issuedSec: number, nowSec: number): boolean {
  const ended = endedByReport.get(route);
  const endedSec = ended?.get(sessionId);
  if (endedSec === undefined) return false;
  if ((nowSec - endedSec) * 1000 >= route.idleTimeoutMs) {
    ended!.delete(sessionId); // every cookie it could refuse has expired
    return false;
  }
  return issuedSec <= endedSec;
}

/**
 * The worker a request's route cookie points at for `sessionId` — only when the signature is
 * right, the cookie is younger than the idle timeout, and that worker is alive and routable. On
 * success the binding is restored (stamped with the cookie's issue time, so the response renews
 * an aging cookie), and the next request is one map lookup again. Called only when the table
 * missed.
 */
export function recoverFromRouteCookie(route: Route, sessionId: string, raw: readonly string[]): Upstream | undefined {
  const cookie = route.routeCookie;
  if (cookie === undefined) return undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (!nameIs(raw[i] as string, 'cookie')) continue;
    const value = findCookie(raw[i + 1] as string, cookie.name);
    if (value === undefined) continue;
    const claim = verifyRoute(cookie.key, value, sessionId);
    if (claim === undefined) return undefined;
    const nowSec = Math.floor(routeNow(cookie) / 1000);
    const ageMs = nowSec * 1000 - claim.issuedSec * 1000;
    if (ageMs >= route.idleTimeoutMs || ageMs < -SKEW_SEC * 1000) return undefined;
    if (endedSince(route, sessionId, claim.issuedSec, nowSec)) return undefined;
    const upstream = cookie.upstream(claim.upstreamId);
    if (upstream === undefined || !upstream.routable) return undefined;
    // When the table is full of sessions it may not evict, this bind is refused: the cookie still routes.
    route.sessions.bind(sessionId, upstream, route.idleTimeoutMs);
    route.sessions.mark(sessionId, upstream, claim.issuedSec * 1000);
    return upstream;
  }
  return undefined;
}
