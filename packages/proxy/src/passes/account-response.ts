import type { Route, Upstream } from '../types';
import { nameIs } from './header-names';
import { clearRouteSetCookie, forbidRevival, routeNow, routeSetCookie } from './route-cookie';

/** What a Set-Cookie line does to the session cookie. */
export interface SetCookieEffect {
  /** The cookie value (may be empty when cleared). */
  value: string;
  /** The worker cleared the cookie: empty value, Max-Age ≤ 0, or an Expires in the past. */
  clear: boolean;
  /** A positive Max-Age, in ms, when given. */
  maxAgeMs: number | undefined;
  /** The Path attribute; undefined when absent or not starting with "/" (the browser then uses the request's directory). */
  path: string | undefined;
  /** The Domain attribute, lower-cased, without a leading dot; undefined when absent or empty. */
  domain: string | undefined;
  secure: boolean;
}

/**
 * Reads one Set-Cookie value; undefined when it is about another cookie. Max-Age wins over
 * Expires (RFC 6265 §5.3); `now` is injectable for tests.
 */
export function parseSetCookieEffect(setCookie: string, name: string, now: number = Date.now()): SetCookieEffect | undefined {
  let i = 0;
  while (i < setCookie.length && (setCookie.charCodeAt(i) === 32 || setCookie.charCodeAt(i) === 9)) i++;
  if (!setCookie.startsWith(name, i) || setCookie.charCodeAt(i + name.length) !== 61 /* = */) return undefined;
  const semi = setCookie.indexOf(';', i);
  let value = (semi === -1 ? setCookie.slice(i + name.length + 1) : setCookie.slice(i + name.length + 1, semi)).trim();
  if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) value = value.slice(1, -1);
  let clear = value === '';
  let maxAgeMs: number | undefined;
  let sawMaxAge = false;
  let expires: string | undefined;
  let path: string | undefined;
  let domain: string | undefined;
  let secure = false;
  if (semi !== -1) {
    for (const part of setCookie.slice(semi + 1).split(';')) {
      const eq = part.indexOf('=');
      if (eq === -1) {
        if (nameIs(part.trim(), 'secure')) secure = true;
        continue;
      }
      const key = part.slice(0, eq).trim();
      const attr = part.slice(eq + 1).trim();
      // RFC 6265 §5.2: the last Path/Domain wins; a Path not starting with "/" means the default.
      if (nameIs(key, 'path')) path = attr.charCodeAt(0) === 47 ? attr : undefined;
      else if (nameIs(key, 'domain')) {
        const bare = attr.charCodeAt(0) === 46 /* . */ ? attr.slice(1) : attr;
        domain = bare === '' ? undefined : bare.toLowerCase();
      } else if (nameIs(key, 'max-age')) {
        // RFC 6265: a leading digit or "-", otherwise the attribute is ignored.
        if (!/^-?\d+$/.test(attr)) continue;
        sawMaxAge = true;
        const seconds = Number(attr);
        if (seconds <= 0) clear = true;
        else maxAgeMs = seconds * 1000;
      } else if (nameIs(key, 'expires')) {
        expires = attr;
      }
    }
  }
  if (!sawMaxAge && expires !== undefined) {
    const at = Date.parse(expires);
    if (!Number.isNaN(at) && at <= now) clear = true;
  }
  return { value, clear, maxAgeMs, path, domain, secure };
}

/** One entry of the X-Handover-Session response header. */
export interface SessionReport {
  id: string;
  /** undefined: the route's idle timeout; 0: the session ended. */
  ttlMs: number | undefined;
}

/**
 * Parses `X-Handover-Session: <id>[; ttl=<seconds>][, <id>[; ttl=<seconds>]]…`. Malformed
 * entries (empty id, an id with spaces or quotes, a ttl that is not a non-negative number)
 * are skipped, never guessed at.
 */
export function parseSessionReport(value: string): SessionReport[] {
  const reports: SessionReport[] = [];
  for (const entry of value.split(',')) {
    const parts = entry.split(';');
    const id = (parts[0] as string).trim();
    if (id === '' || /[\s"]/.test(id)) continue;
    let ttlMs: number | undefined;
    let valid = true;
    for (let k = 1; k < parts.length; k++) {
      const part = parts[k] as string;
      const eq = part.indexOf('=');
      if (eq === -1 || !nameIs(part.slice(0, eq).trim(), 'ttl')) continue;
      const ttl = part.slice(eq + 1).trim();
      if (!/^\d+(\.\d+)?$/.test(ttl)) {
        valid = false;
        break;
      }
      ttlMs = Math.round(Number(ttl) * 1000);
    }
    if (valid) reports.push({ id, ttlMs });
  }
  return reports;
}

/**
 * The Path and Domain the session cookie is set with, learned per route from the Set-Cookie
 * lines that bind it (an app sets its session cookie one way: Tomcat `Path=/<context>`, PHP and
 * Express `Path=/`). Until one is seen (say, after a restart): Path=/ and no Domain.
 */
interface CookieScope {
  readonly path: string | undefined;
  readonly domain: string | undefined;
  /** The session cookie's Secure flag, copied to the route cookie. */
  readonly secure: boolean;
}
const DEFAULT_SCOPE: CookieScope = { path: '/', domain: undefined, secure: false };
const scopes = new WeakMap<Route, CookieScope>();
/** Routes a worker has sent X-Handover-Session on: their apps report, so nothing is guessed. */
const reporting = new WeakSet<Route>();

/**
 * A clearing Set-Cookie removes the browser's cookie only when its Path and Domain are those the
 * cookie was set with (RFC 6265 §5.3 step 11); `SID=; Max-Age=0; Path=/other` clears another
 * cookie and leaves the session alone. Domains compare as written (no Domain = a host-only
 * cookie, which is another cookie than one for a Domain). A missing Path stands for the request's
 * directory, which this pass does not see: when either side has none, the Paths are taken to
 * match (the old behaviour, and right for the usual clear from where the cookie was set).
 */
function sameScope(effect: SetCookieEffect, scope: CookieScope): boolean {
  if (effect.domain !== scope.domain) return false;
  return effect.path === undefined || scope.path === undefined || effect.path === scope.path;
}

/**
 * Pass 4: learn sessions from a worker's response. X-Handover-Session, when present, is exact
 * and wins; otherwise the session cookie is inferred from Set-Cookie: set → bind (and a
 * rotated id drops the old one), cleared (with the cookie's own Path and Domain) → unbind the id
 * the request carried. When the request carried an id the table did not know (`unknownId`) and
 * the answer neither replaced nor cleared it, the worker adopted it without a word (PHP does,
 * for any id): it is bound to that worker.
 * Returns a Set-Cookie line to add to the response (the route cookie) when the route has one
 * and this response bound a session anew, ended one, or is the first answer to the session since
 * its route cookie passed half the idle timeout; otherwise undefined (the usual case).
 */
export function accountResponse(
  route: Route,
  upstream: Upstream,
  requestSessionId: string | undefined,
  raw: readonly string[],
  unknownId = false,
): string | undefined {
  const sessions = route.sessions;
  const routeCookie = route.routeCookie;
  let extra: string | undefined;
  let reported = false;
  let ended = false;
  /** The answer set the session cookie to another id, or cleared it. */
  let replaced = false;
  for (let i = 0; i < raw.length; i += 2) {
    if (!nameIs(raw[i] as string, 'x-handover-session')) continue;
    if (!reported && !reporting.has(route)) reporting.add(route);
    reported = true;
    for (const report of parseSessionReport(raw[i + 1] as string)) {
      const ttl = report.ttlMs ?? route.idleTimeoutMs;
      if (ttl === 0) {
        // An end counts only for a session that is this worker's (or already gone), as by the side channel.
        const owner = sessions.peek(report.id);
        if (owner !== undefined && owner !== upstream) continue;
        // Another client's session: its route cookie is not cleared by this response.
        if (report.id !== requestSessionId) forbidRevival(route, report.id);
      }
      const fresh = sessions.bind(report.id, upstream, ttl);
      if (routeCookie === undefined) continue;
      if (fresh) extra = issueRouteCookie(route, upstream, report.id, (scopes.get(route) ?? DEFAULT_SCOPE).secure);
      else if (ttl === 0 && report.id === requestSessionId) {
        extra = clearRouteSetCookie(routeCookie);
        ended = true;
      }
    }
  }
  if (!reported) {
    for (let i = 0; i < raw.length; i += 2) {
      if (!nameIs(raw[i] as string, 'set-cookie')) continue;
      const line = raw[i + 1] as string;
      const effect = parseSetCookieEffect(line, route.sessionCookie);
      if (effect === undefined) continue;
      const scope = scopes.get(route) ?? DEFAULT_SCOPE;
      if (effect.clear) {
        if (!sameScope(effect, scope)) continue;
        if (requestSessionId !== undefined) sessions.unbind(requestSessionId);
        if (effect.value !== '' && effect.value !== requestSessionId) sessions.unbind(effect.value);
        if (routeCookie !== undefined) extra = clearRouteSetCookie(routeCookie);
        ended = true;
        replaced = true;
        continue;
      }
      if (effect.value !== requestSessionId) replaced = true;
      if (effect.path !== scope.path || effect.domain !== scope.domain || effect.secure !== scope.secure) {
        scopes.set(route, { path: effect.path, domain: effect.domain, secure: effect.secure });
      }
      const ttl = effect.maxAgeMs !== undefined && effect.maxAgeMs < route.idleTimeoutMs ? effect.maxAgeMs : route.idleTimeoutMs;
      if (sessions.bind(effect.value, upstream, ttl) && routeCookie !== undefined) {
        extra = issueRouteCookie(route, upstream, effect.value, effect.secure);
      }
      // A new id for a client that sent another one of ours: the old id was rotated away (login).
      if (requestSessionId !== undefined && requestSessionId !== effect.value && sessions.peek(requestSessionId) === upstream) {
        sessions.unbind(requestSessionId);
      }
    }
  }
  if (unknownId && !reported && !replaced && requestSessionId !== undefined && learns(route) && sessions.peek(requestSessionId) === undefined) {
    // Bounded like any new session: a full table makes room or refuses it.
    if (sessions.bind(requestSessionId, upstream, route.idleTimeoutMs) && routeCookie !== undefined) {
      extra = issueRouteCookie(route, upstream, requestSessionId, (scopes.get(route) ?? DEFAULT_SCOPE).secure);
    }
    return extra;
  }
  if (extra === undefined && !ended && routeCookie !== undefined && requestSessionId !== undefined) {
    extra = renewRouteCookie(route, upstream, requestSessionId);
  }
  return extra;
}

/**
 * Reports a worker sent by the side channel (the supervisor's `/session-reports`), for what no
 * response could carry: a session ended after the head was sent, or expired in the app's own
 * background. Applied as if on a response, except that `ttl=0` ends a session only while it is
 * this worker's: a late report must not end an id that has moved to another worker since.
 * Marks the route as reporting. Returns how many entries changed the table.
 */
export function applySessionReports(route: Route, upstream: Upstream, reports: readonly SessionReport[]): number {
  if (!reporting.has(route)) reporting.add(route);
  const sessions = route.sessions;
  let changed = 0;
  for (const report of reports) {
    if (report.ttlMs === 0) {
      if (sessions.peek(report.id) === upstream && sessions.unbind(report.id)) changed++;
      // No response to its client carries this end: its route cookie must not bring it back.
      forbidRevival(route, report.id);
    } else if (sessions.bind(report.id, upstream, report.ttlMs ?? route.idleTimeoutMs)) changed++;
  }
  return changed;
}

/** Whether ids a worker adopted silently are learned from requests on this route (see Route.learnSessions). */
function learns(route: Route): boolean {
  return route.learnSessions !== false && !reporting.has(route);
}

/** The route cookie for a session bound anew, its issue time marked on the binding. */
function issueRouteCookie(route: Route, upstream: Upstream, sessionId: string, secure: boolean): string {
  const cookie = route.routeCookie as NonNullable<Route['routeCookie']>;
  const now = routeNow(cookie);
  route.sessions.mark(sessionId, upstream, now);
  return routeSetCookie(cookie, upstream.id, sessionId, Math.floor(now / 1000), secure);
}

/**
 * A fresh route cookie when the one last sent for this session is older than half the idle
 * timeout (or unknown, as after a restart), issued as of the request's own lookup: one Map.get
 * and no clock read per response, a Set-Cookie line about once per half idle timeout per session.
 */
function renewRouteCookie(route: Route, upstream: Upstream, sessionId: string): string | undefined {
  const at = route.sessions.renew(sessionId, upstream, route.idleTimeoutMs / 2);
  if (at === 0) return undefined;
  const cookie = route.routeCookie as NonNullable<Route['routeCookie']>;
  return routeSetCookie(cookie, upstream.id, sessionId, Math.floor(at / 1000), (scopes.get(route) ?? DEFAULT_SCOPE).secure);
}
