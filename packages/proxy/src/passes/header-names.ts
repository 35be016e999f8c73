/**
 * Header-name tests on the raw (original-case) names of `rawHeaders`, without lower-casing
 * a copy of every name: a length switch, then a char-code compare.
 */

/** ASCII case-insensitive equality of `name` with the lower-case literal `lower`. */
export function nameIs(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  return startsWithLower(name, lower);
}

/** ASCII case-insensitive `name.startsWith(lowerPrefix)`. */
export function startsWithLower(name: string, lowerPrefix: string): boolean {
  const n = lowerPrefix.length;
  if (name.length < n) return false;
  for (let i = 0; i < n; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerPrefix.charCodeAt(i)) return false;
  }
  return true;
}

/** The fixed hop-by-hop set (RFC 9110 §7.6.1, plus Proxy-Connection, Keep-Alive, Trailer). */
export function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 2:
      return nameIs(name, 'te');
    case 7:
      return nameIs(name, 'trailer') || nameIs(name, 'upgrade');
    case 10:
      return nameIs(name, 'connection') || nameIs(name, 'keep-alive');
    case 16:
      return nameIs(name, 'proxy-connection');
    case 17:
      return nameIs(name, 'transfer-encoding');
    default:
      return false;
  }
}

/** Handover's own headers: never forwarded in either direction. */
export function isInternal(name: string): boolean {
  return startsWithLower(name, 'x-handover-');
}

/**
 * Forwarding headers a client could forge: `Forwarded`, `X-Real-IP` and every `X-Forwarded-*`.
 * Dropped from requests unless the proxy sits behind a trusted one.
 */
export function isForwarding(name: string): boolean {
  switch (name.length) {
    case 9:
      return nameIs(name, 'forwarded') || nameIs(name, 'x-real-ip');
    default:
      return name.length > 12 && startsWithLower(name, 'x-forwarded-');
  }
}

/**
 * Names a `Connection` token may not remove: the message's framing and routing (HAProxy and
 * nginx ignore such tokens too). Their tokens are dropped; the header stays.
 */
function isProtected(token: string): boolean {
  switch (token) {
    case 'content-length':
    case 'transfer-encoding':
    case 'host':
    case 'cookie':
    case 'set-cookie':
    case 'x-handover-session':
      return true;
    default:
      return false;
  }
}

/**
 * Extra hop-by-hop names listed in Connection headers (lower-cased), or undefined when there
 * are none beyond close/keep-alive/upgrade — the usual case, which allocates nothing.
 */
export function connectionTokens(raw: readonly string[]): string[] | undefined {
  let tokens: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (!nameIs(raw[i] as string, 'connection')) continue;
    const value = raw[i + 1] as string;
    for (const part of value.split(',')) {
      const token = part.trim().toLowerCase();
      if (token === '' || token === 'close' || token === 'keep-alive' || token === 'upgrade' || isProtected(token)) continue;
      (tokens ??= []).push(token);
    }
  }
  return tokens;
}

/** Whether `name` is one of the (lower-case) tokens. */
export function isListed(name: string, tokens: readonly string[] | undefined): boolean {
  if (tokens === undefined) return false;
  for (const token of tokens) if (nameIs(name, token)) return true;
  return false;
}
