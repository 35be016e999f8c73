/**
 * A client connection's request parser: llhttp's callbacks (head, body, end, and the read as a
 * whole), pipelining, upgrades, and the requests the proxy refuses while parsing. Each callback
 * is an entry from I/O and runs inside the fault guard.
 */
import { nameIs } from '../passes/header-names';
import { type ClientConn, failConn, PAUSE_FOR_GOOD, PAUSE_PIPELINED, pauseConn } from './client-connection';
import { abort, Exchange, requestEnded, start, writeBody } from './exchange';
import { faultProbe } from './guard';
import { isWebSocketUpgrade, textHead } from './heads';
import { kOnBody, kOnExecute, kOnHeaders, kOnHeadersComplete, kOnMessageBegin, kOnMessageComplete, METHODS, type ParseError } from './llhttp';
import type { OwnedParser } from './sockets';

/** Points a new request parser's callbacks at this file's handlers. */
export function listenToRequests(parser: OwnedParser): void {
  parser[kOnMessageBegin] = onRequestBegin;
  parser[kOnHeaders] = onRequestHeaders;
  parser[kOnHeadersComplete] = onRequestHead;
  parser[kOnBody] = onRequestBody;
  parser[kOnMessageComplete] = onRequestEnd;
  parser[kOnExecute] = onClientExecute;
}

/** The parser read and parsed a chunk from the client socket itself. */
function onClientExecute(this: OwnedParser, ret: number | ParseError): void {
  const conn = this.conn as ClientConn;
  if (conn.broken) return;
  conn.lastReadAt = Date.now();
  afterClientParse(conn, ret, undefined);
}

/**
 * After a chunk is parsed (never inside it, so a request whose bytes turn out malformed in the
 * same chunk never reaches a worker): errors, upgrades, and starting the current request.
 */
export function afterClientParse(conn: ClientConn, ret: number | ParseError, chunk: Buffer | undefined): void {
  try {
    if (faultProbe !== undefined) faultProbe('client.parsed');
    if (typeof ret !== 'number') {
      parseFailed(conn, ret);
      // Refused at once, or after the requests before it (which may still need starting).
      if (conn.broken) return;
    }
    const handshake = conn.handshake;
    if (handshake !== undefined && typeof ret === 'number') {
      // llhttp stopped after the handshake head: what follows is the client's first frames.
      conn.handshake = undefined;
      const rest = (chunk ?? conn.parser.getCurrentBuffer()).subarray(ret);
      if (rest.length > 0) handshake.early = rest;
    }
    const ex = conn.current;
    if (ex !== undefined && ex.upstream === undefined && !ex.local) start(ex);
  } catch (error) {
    conn.fault('client.parsed', error);
  }
}

function onRequestBegin(this: OwnedParser): void {
  const conn = this.conn as ClientConn;
  conn.inMessage = true;
  conn.headDone = false;
  conn.msgStart = Date.now();
}

function onRequestHeaders(this: OwnedParser, headers: string[], url: string): void {
  const conn = this.conn as ClientConn;
  if (conn.headers === undefined) conn.headers = headers;
  else conn.headers.push(...headers);
  if (url) conn.url += url;
}

function onRequestHead(
  this: OwnedParser,
  versionMajor: number,
  versionMinor: number,
  headers: string[] | undefined,
  method: number,
  url: string | undefined,
  _status: unknown,
  _reason: unknown,
  upgrade: boolean,
  keepAlive: boolean,
): number {
  const conn = this.conn as ClientConn;
  try {
    if (faultProbe !== undefined) faultProbe('client.head');
    conn.headDone = true;
    if (headers === undefined || conn.headers !== undefined) {
      headers = headers === undefined ? (conn.headers ?? []) : [...(conn.headers ?? []), ...headers];
      conn.headers = undefined;
    }
    if (!url) {
      url = conn.url;
      conn.url = '';
    }
    // After a fault, a close or the connection's last request no more requests are taken.
    if (conn.broken || conn.lastRequest) return 1;
    // HTTP/1.0 and 1.1 only: an explicit "HTTP/0.9" or "HTTP/2.0" line is not relabelled 1.1.
    if (versionMajor !== 1 || versionMinor > 1) {
      refuseRequest(conn, 505, 'HTTP Version Not Supported');
      return 1;
    }
    const state = conn.state;
    if (state.maxHeaderCount > 0 && headers.length > state.maxHeaderCount * 2) {
      refuseRequest(conn, 431, 'Request Header Fields Too Large');
      return 1;
    }
    const http10 = versionMinor === 0;
    const name = METHODS[method];
    if (name === undefined) {
      refuseRequest(conn, 501, 'Not Implemented');
      return 1;
    }
    const ex = new Exchange(conn, name, url, headers, keepAlive && !http10, http10);
    ex.startedAt = conn.msgStart;
    if (upgrade) {
      if (name === 'CONNECT') {
        refuseRequest(conn, 405, 'Method Not Allowed');
        return 1;
      }
      // The connection serves no further request. A WebSocket handshake may become a tunnel; any
      // other protocol (h2c…) is not tunnelled: the request is answered as plain HTTP/1.1.
      ex.keepAlive = false;
      const body = hasBody(headers);
      if (isWebSocketUpgrade(headers)) {
        if (body) {
          refuseRequest(conn, 400, 'Bad Request');
          return 1;
        }
        ex.upgrade = true;
        conn.handshake = ex;
        conn.inMessage = false;
      }
      // Without a body llhttp stops after the head: the bytes after it are the other protocol's, never read.
      if (!body) pauseConn(conn, PAUSE_FOR_GOOD);
    }
    // Bytes after a request that ends the connection are not read (they may be anything).
    if (!ex.keepAlive) conn.lastRequest = true;
    ex.active = true;
    state.active++;
    conn.parsing = ex;
    if (conn.current === undefined) conn.current = ex;
    else {
      (conn.queue ??= []).push(ex);
      pauseConn(conn, PAUSE_PIPELINED);
    }
    return 0;
  } catch (error) {
    conn.fault('client.head', error);
    return 1;
  }
}

/** The head announces a body (llhttp treats an upgrade with a body as a plain request). */
function hasBody(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (nameIs(name, 'transfer-encoding') || (nameIs(name, 'content-length') && (raw[i + 1] as string) !== '0')) return true;
  }
  return false;
}

function onRequestBody(this: OwnedParser, chunk: Buffer): void {
  const conn = this.conn as ClientConn;
  try {
    if (faultProbe !== undefined) faultProbe('client.body');
    const ex = conn.parsing;
    if (ex === undefined || ex.local || ex.finished) return;
    if (ex.headSent) {
      if (ex.up !== undefined) writeBody(ex, ex.up, chunk);
      return;
    }
    (ex.pending ??= []).push(chunk);
  } catch (error) {
    conn.fault('client.body', error);
  }
}

function onRequestEnd(this: OwnedParser): void {
  const conn = this.conn as ClientConn;
  try {
    if (faultProbe !== undefined) faultProbe('client.end');
    conn.inMessage = false;
    // Trailers arrive as a last kOnHeaders: dropped, never merged into the next request's head.
    conn.headers = undefined;
    conn.url = '';
    const ex = conn.parsing;
    if (ex === undefined) return;
    conn.parsing = undefined;
    requestEnded(ex);
  } catch (error) {
    conn.fault('client.end', error);
  }
}

/** llhttp rejected the bytes: 400 (431 for a head too large), never forwarded, then close. */
function parseFailed(conn: ClientConn, error: ParseError): void {
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  refuseRequest(conn, status, status === 431 ? 'Request Header Fields Too Large' : 'Bad Request');
}

/**
 * A request that cannot be served (malformed, too large, another version). Requests before it
 * on the connection are still answered in order; then this answer, then the close (as nginx).
 * After a request that ends the connection (Connection: close…) the rest is not read at all.
 */
function refuseRequest(conn: ClientConn, status: number, reason: string): void {
  pauseConn(conn, PAUSE_FOR_GOOD);
  if (conn.lastRequest && conn.parsing === undefined) return;
  const bad = conn.parsing;
  if (bad !== undefined && bad !== conn.current) {
    // A pipelined request broke in its body: it goes; the ones before it are answered.
    conn.parsing = undefined;
    const at = conn.queue?.indexOf(bad) ?? -1;
    if (at !== -1) conn.queue?.splice(at, 1);
    abort(bad);
  }
  const current = conn.current;
  if (current === undefined || current === bad) return failConn(conn, status, reason);
  conn.lastRequest = true;
  conn.finalAnswer = textHead(status, reason, `${reason}\n`, false);
}

