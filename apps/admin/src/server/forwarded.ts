/**
 * What the console may believe of a request's `X-Forwarded-*` headers. Any client can send
 * them, so they mean something only when an operator says a reverse proxy is in front that
 * writes them: `HANDOVER_ADMIN_TRUST_PROXY=1` (or the number of proxies in the chain).
 *
 * Without it, every `X-Forwarded-*` header is ignored for security decisions: the login
 * throttle keys on the user name alone (Next gives route handlers and server actions no peer
 * address: it only copies the socket's address into `X-Forwarded-For` when the client sent
 * none, so that header is the client's word), the session cookie is not marked `Secure` (the
 * console itself only speaks plain http), and the Origin check compares with `Host`.
 *
 * With it, the value the proxy nearest to the client wrote is used: the `hops`-th entry from
 * the right of a comma-separated list (a proxy appends what it saw to whatever the client
 * sent, so the entries left of it are the client's word), or the only entry when the proxy
 * overwrote the header.
 *
 * Deliberately not `server-only`: proxy.ts and the unit tests use it too.
 */

export const TRUST_PROXY_ENV = 'HANDOVER_ADMIN_TRUST_PROXY';
/** More proxies than this in front of an admin console is a configuration mistake. */
const MAX_HOPS = 10;

let warnedAbout: string | null = null;
let warnedHttps = false;

/**
 * How many trusted proxies are in front of the console: 0 (the default: none, trust no
 * `X-Forwarded-*` header), 1 for `1`/`true`/`yes`/`on`, or the number given (up to 10). A value
 * that is none of these trusts nothing and says so once on stderr.
 */
export function trustedProxyHops(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[TRUST_PROXY_ENV]?.trim().toLowerCase() ?? '';
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'no' || raw === 'off') return 0;
  if (raw === 'true' || raw === 'yes' || raw === 'on') return 1;
  if (/^\d+$/.test(raw) && Number(raw) >= 1 && Number(raw) <= MAX_HOPS) return Number(raw);
  if (warnedAbout !== raw) {
    warnedAbout = raw;
    console.error(
      `admin console: ${TRUST_PROXY_ENV} must be 0, 1 (or true) or the number of proxies in front (up to ${MAX_HOPS}); ` +
        `got ${JSON.stringify(env[TRUST_PROXY_ENV])}, so no X-Forwarded-* header is trusted`,
    );
  }
  return 0;
}

/**
 * The value of a forwarded header as the trusted proxy wrote it, or null when no proxy is
 * trusted (hops 0) or the header is absent or empty.
 */
export function forwardedValue(headers: Headers, name: string, hops: number): string | null {
  if (hops < 1) return null;
  const raw = headers.get(name);
  if (raw === null) return null;
  const entries = raw.split(',').map((entry) => entry.trim());
  const value = entries[Math.max(0, entries.length - hops)] ?? '';
  return value === '' ? null : value;
}

/** The client's address as a trusted proxy reported it; null when none is trusted. */
export function trustedClientAddress(headers: Headers, hops: number): string | null {
  return forwardedValue(headers, 'x-forwarded-for', hops);
}

/**
 * Whether the browser reached the console over https, i.e. a trusted proxy's
 * `X-Forwarded-Proto` says so. `next start` has no TLS listener, so without a trusted proxy the
 * answer is no. (Not the request URL: Next builds its scheme from `X-Forwarded-Proto` too.) An
 * untrusted `X-Forwarded-Proto` changes nothing.
 */
export function cameOverHttps(headers: Headers, hops: number): boolean {
  const proto = forwardedValue(headers, 'x-forwarded-proto', hops);
  if (proto !== null) return proto.toLowerCase() === 'https';
  if (hops === 0 && !warnedHttps && headers.get('x-forwarded-proto')?.trim().toLowerCase().startsWith('https')) {
    // Either a TLS proxy is in front and the operator forgot to say so (the cookie then lacks
    // Secure), or a client forged the header (and changed nothing). Said once, without values.
    warnedHttps = true;
    console.warn(
      `admin console: a request came with X-Forwarded-Proto: https, but ${TRUST_PROXY_ENV} is not set, so it is ignored ` +
        `and the session cookie is not marked Secure. If a TLS proxy is in front of the console, set ${TRUST_PROXY_ENV}=1.`,
    );
  }
  return false;
}

/** The host the browser addressed: a trusted proxy's `X-Forwarded-Host`, else `Host`. */
export function requestHost(headers: Headers, hops: number): string | null {
  return forwardedValue(headers, 'x-forwarded-host', hops) ?? headers.get('host');
}
