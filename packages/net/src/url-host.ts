/** An IPv6 literal in brackets, as a URL needs it (`::1` → `[::1]`); anything else unchanged. */
export function bracketHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * The host part of a URL that reaches a listener bound to `host`: a wildcard bind (0.0.0.0, ::)
 * is reached on loopback, and an IPv6 literal needs brackets.
 */
export function urlHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return bracketHost(host);
}
