/**
 * The forwarded heads, written straight as HTTP/1.1 text from the parser's flat
 * [name, value, …] list: the same rules as passes/forward-headers (hop-by-hop, Connection-named
 * and x-handover-* headers dropped; X-Forwarded-* added), without header objects in between.
 * Header strings from llhttp are one byte per character, so the text is written as latin1.
 */
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, type BodyKind } from '../passes/forward-headers';
import { connectionTokens, isHopByHop, isInternal, isListed, nameIs } from '../passes/header-names';
import type { Upstream } from '../types';

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

export interface RequestHead {
  head: string;
  body: BodyKind;
  /** The request had a Host header. */
  host: boolean;
}

/** Reused result object: the caller copies the fields out at once (no allocation per request). */
const result: RequestHead = { head: '', body: BODY_NONE, host: false };

/**
 * The head sent to a worker. `remote` is the client address for X-Forwarded-For; the worker's
 * host:port is used as Host when the client sent none (HTTP/1.0). `authority`, from an
 * absolute-form target, replaces whatever Host the client sent.
 */
export function requestHead(
  method: string,
  url: string,
  raw: readonly string[],
  remote: string,
  trustForwarded: boolean,
  upstream: Upstream,
  authority: string | undefined,
): RequestHead {
  const tokens = connectionTokens(raw);
  let body: BodyKind = BODY_NONE;
  let forwardedFor: string | undefined;
  let host: string | undefined;
  let sawProto = false;
  let sawHost = false;
  let sawLength = false;
  let head = `${method} ${url} HTTP/1.1\r\n`;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    switch (name.length) {
      case 4:
        if (nameIs(name, 'host')) {
          if (authority !== undefined) continue;
          host = value;
        }
        break;
      case 14:
        if (nameIs(name, 'content-length')) {
          sawLength = true;
          if (value !== '0' && body === BODY_NONE) body = BODY_LENGTH;
        }
        break;
      case 15:
        if (nameIs(name, 'x-forwarded-for')) {
          forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
          continue;
        }
        break;
      case 16:
        if (nameIs(name, 'x-forwarded-host')) {
          if (!trustForwarded) continue;
          sawHost = true;
        }
        break;
      case 17:
        if (nameIs(name, 'transfer-encoding')) body = BODY_CHUNKED;
        else if (nameIs(name, 'x-forwarded-proto')) {
          if (!trustForwarded) continue;
          sawProto = true;
        }
        break;
    }
    if (isHopByHop(name) || isInternal(name) || isListed(name, tokens)) continue;
    head += `${name}: ${value}\r\n`;
  }
  if (authority !== undefined) {
    host = authority;
    head += `Host: ${authority}\r\n`;
  }
  head += `X-Forwarded-For: ${forwardedFor === undefined ? remote : `${forwardedFor}, ${remote}`}\r\n`;
  if (!sawProto) head += 'X-Forwarded-Proto: http\r\n';
  if (host === undefined) head += `Host: ${upstream.host}:${upstream.port}\r\n`;
  else if (!sawHost) head += `X-Forwarded-Host: ${host}\r\n`;
  // Transfer-Encoding is hop-by-hop: the body is de-chunked by the parser and chunked again.
  if (body === BODY_CHUNKED) head += 'Transfer-Encoding: chunked\r\n';
  else if (body === BODY_NONE && !sawLength && !bodylessByDefault(method)) head += 'Content-Length: 0\r\n';
  head += 'Connection: keep-alive\r\n\r\n';
  result.head = head;
  result.body = body;
  result.host = host !== undefined;
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
 * The head sent to the client. `bodyless`: HEAD request, 1xx, 204 or 304. `http10`: the client
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
): ResponseHead {
  const tokens = connectionTokens(raw);
  let length = false;
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
        if (nameIs(name, 'content-length')) length = true;
        break;
    }
    if (isHopByHop(name) || isInternal(name) || isListed(name, tokens)) continue;
    head += `${name}: ${raw[i + 1] as string}\r\n`;
  }
  if (setCookie !== undefined) head += `Set-Cookie: ${setCookie}\r\n`;
  let mode: OutMode;
  if (bodyless) mode = OUT_NONE;
  else if (length || http10) mode = OUT_RAW;
  else {
    mode = OUT_CHUNKED;
    head += 'Transfer-Encoding: chunked\r\n';
  }
  head += close ? 'Connection: close\r\n\r\n' : '\r\n';
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

/** An informational (1xx) head, relayed as is minus hop-by-hop and internal headers. */
export function informationalHead(status: number, reason: string, raw: readonly string[]): string {
  const tokens = connectionTokens(raw);
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (isHopByHop(name) || isInternal(name) || isListed(name, tokens)) continue;
    head += `${name}: ${raw[i + 1] as string}\r\n`;
  }
  return `${head}\r\n`;
}
