import type { IncomingMessage } from 'node:http';
import { connectionTokens, isForwarding, isHopByHop, isInternal, isListed, nameIs } from './header-names';

/** How the request body is framed, as the proxy must re-frame it upstream. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export type BodyKind = typeof BODY_NONE | typeof BODY_LENGTH | typeof BODY_CHUNKED;

/** Methods Node's client sends without framing when no length is given (others get chunked). */
function bodylessByDefault(method: string | undefined): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'DELETE':
    case 'OPTIONS':
    case 'TRACE':
    case 'CONNECT':
      return true;
    default:
      return false;
  }
}

/**
 * Pass 3: the header list sent upstream, appended to `out` as a flat [name, value, …] array
 * (the form http.request and rawHeaders use, keeping case, order and duplicates). Drops
 * hop-by-hop headers, headers named in Connection and every x-handover-* header; appends to
 * X-Forwarded-For and sets X-Forwarded-Proto/-Host. For an upgrade, Connection/Upgrade are
 * re-added. Returns how the body is framed.
 */
export function forwardRequestHeaders(
  req: IncomingMessage,
  out: string[],
  upgrade: boolean,
  trustForwarded: boolean,
): BodyKind {
  const raw = req.rawHeaders;
  const tokens = connectionTokens(raw);
  let body: BodyKind = BODY_NONE;
  let forwardedFor: string | undefined;
  let host: string | undefined;
  let upgradeTo: string | undefined;
  let sawProto = false;
  let sawHost = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    switch (name.length) {
      case 4:
        if (nameIs(name, 'host')) host = value;
        break;
      case 7:
        if (nameIs(name, 'upgrade')) upgradeTo = value;
        break;
      case 14:
        if (nameIs(name, 'content-length') && value !== '0' && body === BODY_NONE) body = BODY_LENGTH;
        break;
      case 17:
        if (nameIs(name, 'transfer-encoding')) body = BODY_CHUNKED;
        break;
    }
    // As the engine's heads.ts: forwarding headers only from a trusted proxy in front.
    if (isForwarding(name)) {
      if (!trustForwarded) continue;
      if (nameIs(name, 'x-forwarded-for')) {
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      }
      if (nameIs(name, 'x-forwarded-proto')) sawProto = true;
      else if (nameIs(name, 'x-forwarded-host')) sawHost = true;
    }
    if (isHopByHop(name) || isInternal(name) || isListed(name, tokens)) continue;
    out.push(name, value);
  }
  const socket = req.socket;
  const remote = socket.remoteAddress ?? '';
  out.push('X-Forwarded-For', forwardedFor === undefined ? remote : `${forwardedFor}, ${remote}`);
  if (!sawProto) out.push('X-Forwarded-Proto', (socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  if (!sawHost && host !== undefined) out.push('X-Forwarded-Host', host);
  if (upgrade) {
    out.push('Connection', 'Upgrade');
    if (upgradeTo !== undefined) out.push('Upgrade', upgradeTo);
    return BODY_NONE;
  }
  // Transfer-Encoding is hop-by-hop: the body arrives de-chunked, so frame it again ourselves.
  if (body === BODY_CHUNKED) out.push('Transfer-Encoding', 'chunked');
  // Without a length Node would frame an empty POST as chunked; say plainly there is no body.
  else if (body === BODY_NONE && !bodylessByDefault(req.method) && !hasContentLength(raw)) out.push('Content-Length', '0');
  return body;
}

function hasContentLength(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) if (nameIs(raw[i] as string, 'content-length')) return true;
  return false;
}

/**
 * Pass 5: the header list sent to the client: the worker's headers minus hop-by-hop ones,
 * those named in Connection and every x-handover-* header. `close` adds Connection: close
 * (the proxy is shutting down).
 */
export function forwardResponseHeaders(raw: readonly string[], close: boolean): string[] {
  const tokens = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (isHopByHop(name) || isInternal(name) || isListed(name, tokens)) continue;
    out.push(name, raw[i + 1] as string);
  }
  if (close) out.push('Connection', 'close');
  return out;
}
