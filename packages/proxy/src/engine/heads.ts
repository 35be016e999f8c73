/**
 * The forwarded heads, written straight as HTTP/1.1 text from the parser's flat
 * [name, value, …] list, without header objects in between. Header strings from llhttp are one
 * byte per character, so the text is written as latin1.
 *
 * Framing is never copied: Content-Length and Transfer-Encoding of the forwarded message are
 * written by the proxy from what its parser decided, so they always match the bytes it streams,
 * and a `Connection` token cannot remove them (nor Host, Cookie or Set-Cookie: see
 * header-names.ts). Forwarding headers from clients are replaced unless the proxy is told it
 * sits behind a trusted one.
 */
import { connectionTokens, isForwarding, isHopByHop, isInternal, isListed, nameIs } from '../passes/header-names';
import type { Upstream } from '../types';

/** How the request body is framed, as the proxy frames it again upstream. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export type BodyKind = typeof BODY_NONE | typeof BODY_LENGTH | typeof BODY_CHUNKED;

/** Methods that carry no body without framing (the others get an explicit Content-Length: 0). */
function bodylessByDefault(method: string): boolean {
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

export const HOST_OK = 0;
/** HTTP/1.1 without Host. */
export const HOST_MISSING = 1;
/** Host repeated, empty or not a host[:port]. */
export const HOST_INVALID = 2;
export type HostCheck = typeof HOST_OK | typeof HOST_MISSING | typeof HOST_INVALID;

export interface RequestHead {
  head: string;
  body: BodyKind;
  host: HostCheck;
  /** A transfer coding other than plain `chunked` (e.g. `gzip, chunked`). */
  unsupportedCoding: boolean;
}

/** Reused result object: the caller copies the fields out at once (no allocation per request). */
const result: RequestHead = { head: '', body: BODY_NONE, host: HOST_OK, unsupportedCoding: false };

/** RFC 3986 host[:port] characters (reg-name, IP literal, port); no space, '/', '@', '?', '#', '\\'. */
function isHostValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 58) || (c >= 65 && c <= 90) || c === 45 || c === 46) continue;
    // _ ~ [ ] % ! $ & ' ( ) * + , ; =
    if (c === 95 || c === 126 || c === 91 || c === 93 || c === 37 || c === 33 || c === 36 || (c >= 38 && c <= 44) || c === 59 || c === 61) continue;
    return false;
  }
  return true;
}

/**
 * The head sent to a worker. `remote` is the client address for X-Forwarded-For; the worker's
 * host:port is used as Host when an HTTP/1.0 client sent none. `authority`, from an
 * absolute-form target, replaces whatever Host the client sent. `upgrade`: a WebSocket
 * handshake (Connection and Upgrade are hop-by-hop, so the proxy says them again itself).
 */
export function requestHead(
  method: string,
  url: string,
  raw: readonly string[],
  remote: string,
  trustForwarded: boolean,
  upstream: Upstream,
  authority: string | undefined,
  http10: boolean,
  upgrade: boolean,
): RequestHead {
  const tokens = connectionTokens(raw);
  let body: BodyKind = BODY_NONE;
  let length: string | undefined;
  let forwardedFor: string | undefined;
  let host: string | undefined;
  let hostCheck: HostCheck = HOST_OK;
  let unsupported = false;
  let sawProto = false;
  let sawHost = false;
  let head = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    switch (name.length) {
      case 4:
        if (nameIs(name, 'host')) {
          if (host !== undefined || !isHostValue(value)) hostCheck = HOST_INVALID;
          host = value;
          continue;
        }
        break;
      case 14:
        if (nameIs(name, 'content-length')) {
          length = value;
          if (value !== '0' && body === BODY_NONE) body = BODY_LENGTH;
          continue;
        }
        break;
      case 17:
        if (nameIs(name, 'transfer-encoding')) {
          // llhttp de-chunks; a coding before chunked (gzip, chunked) would be lost: 501, as nginx.
          if (!nameIs(value, 'chunked')) unsupported = true;
          body = BODY_CHUNKED;
          continue;
        }
        break;
    }
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
    head += `${name}: ${value}\r\n`;
  }
  if (authority !== undefined) host = authority;
  else if (host === undefined && !http10) hostCheck = HOST_MISSING;
  head += `X-Forwarded-For: ${forwardedFor === undefined ? remote : `${forwardedFor}, ${remote}`}\r\n`;
  if (!sawProto) head += 'X-Forwarded-Proto: http\r\n';
  if (host !== undefined && !sawHost) head += `X-Forwarded-Host: ${host}\r\n`;
  // The parser de-chunks the body and the proxy frames it again; a length is passed on as parsed.
  if (body === BODY_CHUNKED) head += 'Transfer-Encoding: chunked\r\n';
  else if (length !== undefined) head += `Content-Length: ${length}\r\n`;
  else if (!bodylessByDefault(method)) head += 'Content-Length: 0\r\n';
  result.head = `${method} ${url} HTTP/1.1\r\nHost: ${host ?? `${upstream.host}:${upstream.port}`}\r\n${head}${upgrade ? 'Connection: Upgrade\r\nUpgrade: websocket' : 'Connection: keep-alive'}\r\n\r\n`;
  result.body = body;
  result.host = hostCheck;
  result.unsupportedCoding = unsupported;
  return result;
}

/** How a response body goes to the client. */
export const OUT_NONE = 0;
/** As received (Content-Length, or an HTTP/1.0 client reading until close). */
export const OUT_RAW = 1;
/** Chunked again (the worker chunked it, or framed it by closing). */
export const OUT_CHUNKED = 2;
export type OutMode = typeof OUT_NONE | typeof OUT_RAW | typeof OUT_CHUNKED;

export interface ResponseHead {
  head: string;
  mode: OutMode;
  /** The worker's Keep-Alive: timeout= hint in ms, or 0. */
  keepAliveHintMs: number;
}

const response: ResponseHead = { head: '', mode: OUT_NONE, keepAliveHintMs: 0 };

/**
 * The head sent to the client. `bodyless`: HEAD request, 204 or 304. `http10`: the client
 * cannot take chunked framing. `close`: add Connection: close.
 */
export function responseHead(
  status: number,
  reason: string,
  raw: readonly string[],
  bodyless: boolean,
  http10: boolean,
  close: boolean,
  /** A Set-Cookie value of the proxy's own (the route cookie), rarely set. */
  setCookie: string | undefined,
  /** How the head ends when the connection stays open (EngineState.keepAliveHeadEnd). */
  keepAliveHeadEnd: string,
): ResponseHead {
  const tokens = connectionTokens(raw);
  let length: string | undefined;
  let hint = 0;
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    switch (name.length) {
      case 10:
        if (nameIs(name, 'keep-alive')) {
          hint = keepAliveHintMs(raw[i + 1] as string);
          continue;
        }
        break;
      case 14:
        if (nameIs(name, 'content-length')) {
          length = raw[i + 1] as string;
          continue;
        }
        break;
    }
    if (isHopByHop(name) || isInternal(name) || isListed(name, tokens)) continue;
    head += `${name}: ${raw[i + 1] as string}\r\n`;
  }
  if (setCookie !== undefined) head += `Set-Cookie: ${setCookie}\r\n`;
  // A HEAD or 304 answer's length describes the body it would have had: passed on as metadata.
  if (length !== undefined && status !== 204) head += `Content-Length: ${length}\r\n`;
  let mode: OutMode;
  if (bodyless) mode = OUT_NONE;
  else if (length !== undefined || http10) mode = OUT_RAW;
  else {
    mode = OUT_CHUNKED;
    head += 'Transfer-Encoding: chunked\r\n';
  }
  head += close ? 'Connection: close\r\n\r\n' : status === 101 ? '\r\n' : keepAliveHeadEnd;
  response.head = head;
  response.mode = mode;
  response.keepAliveHintMs = hint;
  return response;
}

let lastHintValue = '';
let lastHintMs = 0;

/** `Keep-Alive: timeout=N` in ms (0 when absent); a worker sends the same value every time, so it is cached. */
function keepAliveHintMs(value: string): number {
  if (value === lastHintValue) return lastHintMs;
  const match = /timeout=(\d+)/i.exec(value);
  lastHintValue = value;
  lastHintMs = match === null ? 0 : Number(match[1]) * 1000;
  return lastHintMs;
}

/** An informational (1xx) head, relayed as is minus hop-by-hop, framing and internal headers. */
export function informationalHead(status: number, reason: string, raw: readonly string[]): string {
  const tokens = connectionTokens(raw);
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (isHopByHop(name) || isInternal(name) || isListed(name, tokens) || nameIs(name, 'content-length')) continue;
    head += `${name}: ${raw[i + 1] as string}\r\n`;
  }
  return `${head}\r\n`;
}

/** Whether an upgrade request asks for a WebSocket (the only protocol the proxy tunnels). */
export function isWebSocketUpgrade(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    if (!nameIs(raw[i] as string, 'upgrade')) continue;
    const value = (raw[i + 1] as string).trim();
    return value.length === 9 && nameIs(value, 'websocket');
  }
  return false;
}

/** A 101's head: Connection and Upgrade are the point of it; other hop-by-hop, framing and internal ones go. */
export function switchingHead(reason: string, raw: readonly string[], setCookie: string | undefined): string {
  const tokens = connectionTokens(raw);
  let head = `HTTP/1.1 101 ${reason}\r\n`;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (isInternal(name) || isListed(name, tokens) || nameIs(name, 'content-length')) continue;
    if (isHopByHop(name) && !nameIs(name, 'connection') && !nameIs(name, 'upgrade')) continue;
    head += `${name}: ${raw[i + 1] as string}\r\n`;
  }
  // The route cookie when the handshake bound or renewed the session (as on any response).
  if (setCookie !== undefined) head += `Set-Cookie: ${setCookie}\r\n`;
  return `${head}\r\n`;
}

/** Plain-text answers made by the proxy itself on a connection it then closes. */
export function textHead(status: number, reason: string, body: string, retryAfter: boolean): string {
  return (
    `HTTP/1.1 ${status} ${reason}\r\n` +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    (retryAfter ? 'Retry-After: 1\r\n' : '') +
    'Connection: close\r\n\r\n' +
    body
  );
}
