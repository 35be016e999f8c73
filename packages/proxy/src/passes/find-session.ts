import type { Route } from '../types';
import { nameIs } from './header-names';

/**
 * Pass 1: the session id a request carries — the route's cookie, else the servlet-style
 * ";jsessionid=" path parameter. Scans the raw strings; the only allocation is the id itself.
 *
 * Several cookies of that name (a browser sends one per Path/Domain it holds, the most specific
 * Path first) are resolved as the application will: by default the **first** occurrence counts,
 * even when empty, as in PHP (`$_COOKIE` keeps the first), the `cookie` parser under Express and
 * Koa ("only assign once"), Go's `Request.Cookie`; Tomcat takes the first and moves on only
 * while the id names no live session, which is the first in the usual case. Django keeps the
 * **last** (`sessionCookieDuplicates: 'last'`).
 */
export function findSessionId(rawHeaders: readonly string[], url: string | undefined, route: Route): string | undefined {
  const last = route.sessionCookieDuplicates === 'last';
  let id: string | undefined;
  let found = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!nameIs(rawHeaders[i] as string, 'cookie')) continue;
    const header = rawHeaders[i + 1] as string;
    const at = cookieAt(header, route.sessionCookie, last);
    if (at === -1) continue;
    id = cookieValueAt(header, at);
    found = true;
    if (!last) break;
  }
  if (found && id !== undefined) return id;
  const param = route.sessionPathParameter;
  if (param !== undefined && url !== undefined) return pathSessionId(url, param);
  return undefined;
}

/**
 * Where the value of the next cookie `name` at or after `from` (a pair's start) begins, just past
 * "name="; -1 when there is none. No allocation.
 */
function nextCookieAt(header: string, name: string, from: number): number {
  const length = header.length;
  const n = name.length;
  let i = from;
  while (i < length) {
    while (i < length && (isSpace(header.charCodeAt(i)) || header.charCodeAt(i) === 59)) i++;
    let stop = header.indexOf(';', i);
    if (stop === -1) stop = length;
    if (header.charCodeAt(i + n) === 61 /* = */ && i + n < stop && header.startsWith(name, i)) return i + n + 1;
    i = stop + 1;
  }
  return -1;
}

/** Where the pair holding position `at` ends: the next pair's start. */
function afterPair(header: string, at: number): number {
  const stop = header.indexOf(';', at);
  return stop === -1 ? header.length : stop + 1;
}

/** Where the value of cookie `name` starts, the first occurrence or the last; -1 when absent. */
function cookieAt(header: string, name: string, last: boolean): number {
  let at = nextCookieAt(header, name, 0);
  if (!last) return at;
  for (let next = at; next !== -1; next = nextCookieAt(header, name, afterPair(header, next))) at = next;
  return at;
}

/** The (unquoted, trimmed) value starting at `start`; undefined when empty. */
function cookieValueAt(header: string, start: number): string | undefined {
  let end = header.indexOf(';', start);
  if (end === -1) end = header.length;
  while (start < end && isSpace(header.charCodeAt(start))) start++;
  while (end > start && isSpace(header.charCodeAt(end - 1))) end--;
  if (end - start >= 2 && header.charCodeAt(start) === 34 && header.charCodeAt(end - 1) === 34) {
    start++;
    end--;
  }
  return end > start ? header.slice(start, end) : undefined;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * The value of cookie `name` in a Cookie header ("a=1; name=v; b=2"), unquoted; undefined when
 * absent or empty. Cookie names are case-sensitive (RFC 6265); the first non-empty match wins.
 */
export function findCookie(header: string, name: string): string | undefined {
  for (let at = nextCookieAt(header, name, 0); at !== -1; at = nextCookieAt(header, name, afterPair(header, at))) {
    const value = cookieValueAt(header, at);
    if (value !== undefined) return value;
  }
  return undefined;
}

function lowerCode(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/**
 * The value of a path parameter such as ";jsessionid=ABC" in the path part of a URL
 * ("/app/page;jsessionid=ABC?x=1"); the name matches case-insensitively. Undefined when absent.
 */
export function pathSessionId(url: string, param: string): string | undefined {
  let pathEnd = url.length;
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) {
      pathEnd = i;
      break;
    }
  }
  const n = param.length;
  let i = url.indexOf(';');
  while (i !== -1 && i < pathEnd) {
    const nameStart = i + 1;
    if (nameStart + n < pathEnd && url.charCodeAt(nameStart + n) === 61 /* = */) {
      let same = true;
      for (let k = 0; k < n; k++) {
        if (lowerCode(url.charCodeAt(nameStart + k)) !== lowerCode(param.charCodeAt(k))) {
          same = false;
          break;
        }
      }
      if (same) {
        const start = nameStart + n + 1;
        let end = start;
        while (end < pathEnd) {
          const c = url.charCodeAt(end);
          if (c === 59 /* ; */ || c === 47 /* / */) break;
          end++;
        }
        if (end > start) return url.slice(start, end);
      }
    }
    i = url.indexOf(';', i + 1);
  }
  return undefined;
}
