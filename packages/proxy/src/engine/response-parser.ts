/**
 * A worker connection's response parser: llhttp's callbacks (head, body, end, and the read as a
 * whole), relaying the answer to the client with its framing written by the proxy, session
 * accounting, 1xx, and the switch to a tunnel on a 101. Each callback is an entry from I/O and
 * runs inside the fault guard.
 */
import { accountResponse } from '../passes/account-response';
import type { Upstream } from '../types';
import { PAUSE_CONNECTING, PAUSE_UPSTREAM_FULL, resumeConn } from './client-connection';
import { badResponse, type Exchange, finish, release } from './exchange';
import { faultProbe } from './guard';
import { informationalHead, OUT_CHUNKED, OUT_RAW, responseHead, switchingHead } from './heads';
import { kOnBody, kOnExecute, kOnHeaders, kOnHeadersComplete, kOnMessageComplete, type ParseError } from './llhttp';
import { type OwnedParser, stopReading } from './sockets';
import { openTunnel } from './tunnel';
import { toPool, type UpConn } from './worker-connection';

/** Points a new response parser's callbacks at this file's handlers. */
export function listenToResponses(parser: OwnedParser): void {
  parser[kOnHeaders] = onResponseHeaders;
  parser[kOnHeadersComplete] = onResponseHead;
  parser[kOnBody] = onResponseBody;
  parser[kOnMessageComplete] = onResponseEnd;
  parser[kOnExecute] = onUpExecute;
}

/** The parser read and parsed a chunk from the worker socket itself (the exchange may be over by now). */
function onUpExecute(this: OwnedParser, ret: number | ParseError): void {
  const up = this.up as UpConn;
  up.lastReadAt = Date.now();
  afterUpParse(up, ret, undefined);
}

export function afterUpParse(up: UpConn, ret: number | ParseError, chunk: Buffer | undefined): void {
  try {
    if (faultProbe !== undefined) faultProbe('worker.parsed');
    const ex = up.ex;
    // Bytes from an idle connection: nothing asked for them.
    if (up.stray) return up.destroy();
    if (typeof ret !== 'number') return ex === undefined ? up.destroy() : badResponse(up, ex);
    // The worker switched protocols: llhttp stopped after the 101 head, the rest is WebSocket frames.
    if (ex !== undefined && ex.switching !== undefined) return openTunnel(ex, up, (chunk ?? up.parser.getCurrentBuffer()).subarray(ret));
    // A head whose body has not come yet goes out now.
    if (ex !== undefined && ex.outHead !== undefined && !ex.finished) flushHead(ex);
  } catch (error) {
    up.fault('worker.parsed', error);
  }
}

function onResponseHeaders(this: OwnedParser, headers: string[]): void {
  const up = this.up as UpConn;
  if (up.headers === undefined) up.headers = headers;
  else up.headers.push(...headers);
}

function onResponseHead(
  this: OwnedParser,
  _versionMajor: number,
  _versionMinor: number,
  headers: string[] | undefined,
  _method: unknown,
  _url: unknown,
  status: number,
  reason: string,
  _upgrade: boolean,
  keepAlive: boolean,
): number {
  const up = this.up as UpConn;
  try {
    if (faultProbe !== undefined) faultProbe('worker.head');
    const ex = up.ex;
    if (headers === undefined || up.headers !== undefined) {
      headers = headers === undefined ? (up.headers ?? []) : [...(up.headers ?? []), ...headers];
      up.headers = undefined;
    }
    if (ex === undefined) {
      // A response nobody asked for (on an idle connection): the connection is dropped.
      up.stray = true;
      return 1;
    }
    if (ex.finished) return 1;
    const conn = ex.conn;
    if (status === 101) {
      // Only a WebSocket handshake may switch protocols; to a plain request it is no answer.
      if (!ex.upgrade) {
        badResponse(up, ex);
        return 1;
      }
      const routeSetCookie = accountResponse(conn.state.route, ex.upstream as Upstream, ex.sessionId, headers, ex.pin === undefined);
      ex.responded = true;
      conn.state.responses.record(status, Date.now() - ex.startedAt);
      ex.switching = switchingHead(reason ?? '', headers, routeSetCookie);
      return 0;
    }
    if (status < 200) {
      // 100 Continue, 103 Early Hints…: relayed; the real answer follows on the same connection.
      ex.informational = true;
      if (!conn.dead && !ex.responded) conn.write(informationalHead(status, reason, headers));
      return 1;
    }
    ex.responded = true;
    // A connection that carried a handshake is never reused.
    up.keepAlive = keepAlive && !ex.upgrade;
    const state = conn.state;
    // One clock read per response (the read's own time is taken only after the whole chunk is parsed).
    state.responses.record(status, Date.now() - ex.startedAt);
    // The worker made or ended the session whether or not the client is still there.
    // No pin: the id the request carried was not bound to this worker when it was dispatched.
    const routeSetCookie = accountResponse(state.route, ex.upstream as Upstream, ex.sessionId, headers, ex.pin === undefined);
    const bodyless = ex.method === 'HEAD' || status === 204 || status === 304;
    const close = !ex.keepAlive || state.closing || conn.ended;
    const out = responseHead(status, reason ?? '', headers, bodyless, ex.http10, close, routeSetCookie, state.keepAliveHeadEnd);
    if (out.keepAliveHintMs > 0) {
      const hinted = out.keepAliveHintMs - 1000;
      const most = state.upstreamKeepAliveHintedMaxMs;
      up.idleLimitMs = hinted <= 0 ? 0 : hinted < most ? hinted : most;
    }
    ex.out = out.mode;
    ex.outHead = out.head;
    return ex.method === 'HEAD' ? 1 : 0;
  } catch (error) {
    up.fault('worker.head', error);
    return 1;
  }
}

/** Writes a head still waiting for body bytes. */
export function flushHead(ex: Exchange): void {
  const head = ex.outHead as string;
  ex.outHead = undefined;
  const conn = ex.conn;
  if (conn.dead) return;
  if (!conn.write(head)) pauseUp(ex);
}

function pauseUp(ex: Exchange): void {
  const up = ex.up;
  if (up !== undefined && !up.dead) stopReading(up.socket, up.consumed);
}

function onResponseBody(this: OwnedParser, chunk: Buffer): void {
  const up = this.up as UpConn;
  try {
    if (faultProbe !== undefined) faultProbe('worker.body');
    const ex = up.ex;
    if (ex === undefined || ex.finished || ex.informational) return;
    const conn = ex.conn;
    if (conn.dead) return;
    const head = ex.outHead;
    let ok: boolean;
    if (ex.out === OUT_RAW) {
      if (head !== undefined) {
        // Head and body in one write (and one packet), the usual case for a small answer.
        ex.outHead = undefined;
        const buffer = Buffer.allocUnsafe(head.length + chunk.length);
        buffer.write(head, 0, 'latin1');
        chunk.copy(buffer, head.length);
        ok = conn.write(buffer);
      } else ok = conn.write(chunk);
    } else if (ex.out === OUT_CHUNKED) {
      const socket = conn.socket;
      socket.cork();
      conn.write(head === undefined ? `${chunk.length.toString(16)}\r\n` : `${head}${chunk.length.toString(16)}\r\n`);
      ex.outHead = undefined;
      socket.write(chunk);
      ok = conn.write('\r\n');
      socket.uncork();
    } else return;
    if (!ok) stopReading(up.socket, up.consumed);
  } catch (error) {
    up.fault('worker.body', error);
  }
}

function onResponseEnd(this: OwnedParser): void {
  const up = this.up as UpConn;
  // Trailers arrive as a last kOnHeaders: dropped, never merged into the next response's head.
  up.headers = undefined;
  try {
    if (faultProbe !== undefined) faultProbe('worker.end');
    const ex = up.ex;
    if (ex === undefined) return;
    if (ex.informational) {
      ex.informational = false;
      return;
    }
    // A 101 ends its message at once; the tunnel opens once this read is parsed (afterUpParse).
    if (ex.finished || ex.switching !== undefined) return;
    const conn = ex.conn;
    if (!conn.dead) {
      const head = ex.outHead;
      ex.outHead = undefined;
      if (ex.out === OUT_CHUNKED) conn.write(head === undefined ? '0\r\n\r\n' : `${head}0\r\n\r\n`);
      else if (head !== undefined) conn.write(head);
    }
    ex.responseDone = true;
    ex.up = undefined;
    // A connection whose request body was not all sent cannot carry another request.
    if (up.keepAlive && ex.requestDone && !up.dead) toPool(up);
    else {
      up.ex = undefined;
      up.destroy();
    }
    if (ex.requestDone) finish(ex);
    else {
      // The worker answered before the whole body came: the rest is read and dropped, and the
      // worker is done with this request (its inFlight unit goes back now).
      ex.local = true;
      release(ex);
      resumeConn(conn, PAUSE_UPSTREAM_FULL | PAUSE_CONNECTING);
    }
  } catch (error) {
    up.fault('worker.end', error);
  }
}
