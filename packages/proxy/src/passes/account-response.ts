import type { Route, Upstream } from '../types';
import { nameIs } from './header-names';
import { clearRouteSetCookie, routeSetCookie } from './route-cookie';

/** What a Set-Cookie line does to the session cookie. */
export interface SetCookieEffect {
  /** The cookie value (may be empty when cleared). */
  value: string;
  /** The worker cleared the cookie: empty value, Max-Age ≤ 0, or an Expires in the past. */
  clear: boolean;
  /** A positive Max-Age, in ms, when given. */
  maxAgeMs: number | undefined;
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
  if (semi !== -1) {
    for (const part of setCookie.slice(semi + 1).split(';')) {
      const eq = part.indexOf('=');
      if (eq === -1) continue;
      const key = part.slice(0, eq).trim();
      const attr = part.slice(eq + 1).trim();
      if (nameIs(key, 'max-age')) {
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
  return { value, clear, maxAgeMs };
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
 * Pass 4: learn sessions from a worker's response. X-Handover-Session, when present, is exact
 * and wins; otherwise the session cookie is inferred from Set-Cookie: set → bind (and a
 * rotated id drops the old one), cleared → unbind the id the request carried.
 * Returns a Set-Cookie line to add to the response (the route cookie) when the route has one
 * and this response bound a session anew or ended one; otherwise undefined (the usual case).
 */
export function accountResponse(
  route: Route,
  upstream: Upstream,
  requestSessionId: string | undefined,
  raw: readonly string[],
): string | undefined {
  const sessions = route.sessions;
  const routeCookie = route.routeCookie;
  let extra: string | undefined;
  let reported = false;
  for (let i = 0; i < raw.length; i += 2) {
    if (!nameIs(raw[i] as string, 'x-handover-session')) continue;
    reported = true;
    for (const report of parseSessionReport(raw[i + 1] as string)) {
      const ttl = report.ttlMs ?? route.idleTimeoutMs;
      const fresh = sessions.bind(report.id, upstream, ttl);
      if (routeCookie === undefined) continue;
      if (fresh) extra = routeSetCookie(routeCookie, upstream.id, report.id, false);
      else if (ttl === 0 && report.id === requestSessionId) extra = clearRouteSetCookie(routeCookie);
    }
  }
  if (reported) return extra;
  for (let i = 0; i < raw.length; i += 2) {
    if (!nameIs(raw[i] as string, 'set-cookie')) continue;
    const line = raw[i + 1] as string;
    const effect = parseSetCookieEffect(line, route.sessionCookie);
    if (effect === undefined) continue;
    if (effect.clear) {
      if (requestSessionId !== undefined) sessions.unbind(requestSessionId);
      if (effect.value !== '' && effect.value !== requestSessionId) sessions.unbind(effect.value);
      if (routeCookie !== undefined) extra = clearRouteSetCookie(routeCookie);
      continue;
    }
    const ttl = effect.maxAgeMs !== undefined && effect.maxAgeMs < route.idleTimeoutMs ? effect.maxAgeMs : route.idleTimeoutMs;
    if (sessions.bind(effect.value, upstream, ttl) && routeCookie !== undefined) {
      extra = routeSetCookie(routeCookie, upstream.id, effect.value, SECURE_ATTRIBUTE.test(line));
    }
    // A new id for a client that sent another one of ours: the old id was rotated away (login).
    if (requestSessionId !== undefined && requestSessionId !== effect.value && sessions.peek(requestSessionId) === upstream) {
      sessions.unbind(requestSessionId);
    }
  }
  return extra;
}

/** The session cookie's own Secure flag, copied to the route cookie (only read when binding anew). */
const SECURE_ATTRIBUTE = /;\s*secure\s*(;|$)/i;
