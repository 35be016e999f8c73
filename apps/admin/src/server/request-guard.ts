import 'server-only';
import { requestHost, trustedProxyHops } from './forwarded';
import type { ConsoleSession } from './session';

/**
 * The two checks every console API route makes before anything else: a live login session,
 * and a request from the console's own pages (not another site). Each route answers a refusal
 * in its own shape (tRPC's for the pass-throughs, plain JSON elsewhere).
 */
export type GuardResult = { session: ConsoleSession } | { refused: 401 | 403; message: string };

export interface GuardOptions {
  getSession: (request: Request) => Promise<ConsoleSession | null>;
  /** Trusted proxies in front (for X-Forwarded-Host). Default: `HANDOVER_ADMIN_TRUST_PROXY`, read per request. */
  trustedProxyHops?: number;
}

export async function guardRequest(request: Request, options: GuardOptions): Promise<GuardResult> {
  const session = await options.getSession(request);
  if (session === null) return { refused: 401, message: 'log in to the Handover console first' };
  // SameSite=Strict already keeps the cookie off cross-site requests; refuse them anyway.
  const hops = options.trustedProxyHops ?? trustedProxyHops();
  if (request.headers.get('sec-fetch-site') === 'cross-site' || !sameOrigin(request, hops)) {
    return { refused: 403, message: 'cross-site requests to the console API are refused' };
  }
  return { session };
}

/**
 * Mutations from a browser carry Origin; it must be the console's own host (browsers without
 * Sec-Fetch-Site still send it). No Origin (curl, same-origin GET in some browsers) passes:
 * such requests still need the login cookie, which SameSite=Strict keeps off other sites.
 * The host is `Host`, or `X-Forwarded-Host` only behind a trusted proxy (a client could send
 * one matching its own Origin).
 */
export function sameOrigin(request: Request, hops: number): boolean {
  const origin = request.headers.get('origin');
  if (origin === null) return true;
  const host = requestHost(request.headers, hops);
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** A plain JSON error (`{"error":{"message"}}`), never cached. */
export function plainError(status: number, message: string, extra: Record<string, unknown> = {}): Response {
  return Response.json({ error: { message }, ...extra }, { status, headers: { 'cache-control': 'no-store' } });
}
