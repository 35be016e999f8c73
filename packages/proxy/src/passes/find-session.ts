import type { Route } from '../types';
import { nameIs } from './header-names';

/**
 * Pass 1: the session id a request carries — the route's cookie, else the servlet-style
 * ";jsessionid=" path parameter. Scans the raw strings; the only allocation is the id itself.
 */
export function findSessionId(rawHeaders: readonly string[], url: string | undefined, route: Route): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!nameIs(rawHeaders[i] as string, 'cookie')) continue;
    const id = findCookie(rawHeaders[i + 1] as string, route.sessionCookie);
    if (id !== undefined) return id;
  }
  const param = route.sessionPathParameter;
  if (param !== undefined && url !== undefined) return pathSessionId(url, param);
  return undefined;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * The value of cookie `name` in a Cookie header ("a=1; name=v; b=2"), unquoted; undefined when
 * absent or empty. Cookie names are case-sensitive (RFC 6265); the first non-empty match wins.
 */
export function findCookie(header: string, name: string): string | undefined {
  const length = header.length;
  const n = name.length;
  let i = 0;
  while (i < length) {
    while (i < length && (isSpace(header.charCodeAt(i)) || header.charCodeAt(i) === 59)) i++;
    let stop = header.indexOf(';', i);
    if (stop === -1) stop = length;
    if (header.charCodeAt(i + n) === 61 /* = */ && i + n < stop && header.startsWith(name, i)) {
      let start = i + n + 1;
      let end = stop;
      while (start < end && isSpace(header.charCodeAt(start))) start++;
      while (end > start && isSpace(header.charCodeAt(end - 1))) end--;
      if (end - start >= 2 && header.charCodeAt(start) === 34 && header.charCodeAt(end - 1) === 34) {
        start++;
        end--;
      }
      if (end > start) return header.slice(start, end);
    }
    i = stop + 1;
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
