/**
 * A connection to a worker: its socket, its response parser, and the per-worker pool it goes
 * back to between requests (LIFO, bounded, with an idle limit that follows the worker's
 * Keep-Alive hint). Every handler is an entry from I/O and runs inside the fault guard.
 */
import net, { type Socket } from 'node:net';
import { accountResponse } from '../passes/account-response';
import type { Upstream } from '../types';
import { failConn, PAUSE_CONNECTING, PAUSE_UPSTREAM_FULL, resumeConn } from './client-connection';
import { abort, badResponse, type Exchange, finish, release, sendHead, upstreamFailed } from './exchange';
import { type EntryPoint, faultProbe, recordFault } from './guard';
import { informationalHead, OUT_CHUNKED, OUT_RAW, responseHead, switchingHead } from './heads';
import { HTTPParser, kOnBody, kOnExecute, kOnHeaders, kOnHeadersComplete, kOnMessageComplete, PARSER_RESOURCE, type ParseError, RESPONSE, STRICT } from './llhttp';
import { closeParser, consume, handOver, type OwnedParser, startReading, stopReading } from './sockets';
import { openTunnel } from './tunnel';
import { type EngineState, MAX_IDLE_PER_UPSTREAM, type WorkerPool } from './state';

const kUp = Symbol('handover.up');
interface UpSocket extends Socket {
  [kUp]?: UpConn;
}

export class UpConn {
  readonly parser: OwnedParser;
  readonly socket: UpSocket;
  ex: Exchange | undefined = undefined;
  /** The worker's last response allows reuse. */
  keepAlive = false;
  idleSince = 0;
  idleLimitMs: number;
  /** Last bytes from the worker (response and body idle timeouts). */
  lastReadAt = 0;
  connected = false;
  dead = false;
  /** Counted in its pool's `open` (until 'close'). */
  counted = true;
  errorCode: string | undefined = undefined;
  /** Bytes came while no request was out. */
  stray = false;
  timer: NodeJS.Timeout | undefined = undefined;
  /** Partial head from kOnHeaders, or trailers. */
  headers: string[] | undefined = undefined;
  readonly consumed: boolean;
  constructor(
    readonly state: EngineState,
    readonly upstream: Upstream,
    readonly pool: WorkerPool,
  ) {
    this.idleLimitMs = state.upstreamKeepAliveMs;
    const parser = new HTTPParser() as OwnedParser;
    parser.initialize(RESPONSE, PARSER_RESOURCE, state.maxResponseHeaderSize, STRICT);
    parser[kOnHeaders] = onResponseHeaders;
    parser[kOnHeadersComplete] = onResponseHead;
    parser[kOnBody] = onResponseBody;
    parser[kOnMessageComplete] = onResponseEnd;
    parser[kOnExecute] = onUpExecute;
    parser.conn = undefined;
    parser.up = this;
    this.parser = parser;
    const socket = net.connect({ host: upstream.host, port: upstream.port, noDelay: true }) as UpSocket;
    this.consumed = consume(parser, socket);
    socket[kUp] = this;
    socket.on('connect', onUpConnect);
    socket.on('data', onUpData);
    socket.on('end', onUpEnd);
    socket.on('close', onUpClose);
    socket.on('error', onUpError);
    socket.on('drain', onUpDrain);
    this.socket = socket;
    this.timer = setTimeout(onConnectTimeout, state.connectTimeoutMs, this);
  }

  destroy(): void {
    this.dead = true;
    this.socket.destroy();
  }

  /** Hands the socket over (a WebSocket tunnel): out of the pool and its counts, paused, reading into its stream. */
  detach(): void {
    const socket = this.socket;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.ex = undefined;
    socket.removeListener('connect', onUpConnect);
    socket.removeListener('data', onUpData);
    socket.removeListener('end', onUpEnd);
    socket.removeListener('close', onUpClose);
    socket.removeListener('error', onUpError);
    socket.removeListener('drain', onUpDrain);
    leavePool(this);
    handOver(socket, this.parser, this.consumed);
  }

  /** A bug met on this connection: it ends, and so does its exchange (502 when nothing was answered yet). */
  fault(entry: EntryPoint, error: unknown): void {
    recordFault(this.state, entry, error);
    const ex = this.ex;
    try {
      this.destroy();
      if (ex !== undefined) failConn(ex.conn, 502, 'Bad Gateway');
    } catch {
      ex?.conn.socket.destroy();
    }
  }
}

export function openWorkerConnection(state: EngineState, upstream: Upstream): UpConn {
  let pool = state.pools.get(upstream);
  if (pool === undefined) state.pools.set(upstream, (pool = { idle: [], open: 0 }));
  pool.open++;
  return new UpConn(state, upstream, pool);
}

export function takeIdle(state: EngineState, upstream: Upstream): UpConn | undefined {
  const list = state.pools.get(upstream)?.idle;
  if (list === undefined || list.length === 0) return undefined;
  const now = Date.now();
  while (list.length > 0) {
    const up = list.pop() as UpConn;
    if (!up.dead && now - up.idleSince < up.idleLimitMs) return up;
    up.destroy();
  }
  return undefined;
}

function toPool(up: UpConn): void {
  up.ex = undefined;
  const list = up.pool.idle;
  if (up.state.closing || up.dead || list.length >= MAX_IDLE_PER_UPSTREAM) {
    up.destroy();
    return;
  }
  up.idleSince = Date.now();
  startReading(up.socket, up.consumed);
  list.push(up);
}

function leavePool(up: UpConn): void {
  const pool = up.pool;
  const at = pool.idle.indexOf(up);
  if (at !== -1) pool.idle.splice(at, 1);
  if (up.counted) {
    up.counted = false;
    pool.open--;
  }
  if (pool.open === 0 && up.state.pools.get(up.upstream) === pool) up.state.pools.delete(up.upstream);
}

function onUpConnect(this: UpSocket): void {
  const up = this[kUp] as UpConn;
  up.connected = true;
  if (up.timer !== undefined) {
    clearTimeout(up.timer);
    up.timer = undefined;
  }
  const ex = up.ex;
  if (ex === undefined) return;
  try {
    if (faultProbe !== undefined) faultProbe('worker.connect');
    ex.connected = true;
    sendHead(ex, up);
  } catch (error) {
    up.fault('worker.connect', error);
  }
}

function onConnectTimeout(up: UpConn): void {
  up.timer = undefined;
  if (up.connected) return;
  up.errorCode = 'ETIMEDOUT';
  up.destroy();
}

function onUpError(this: UpSocket, error: NodeJS.ErrnoException): void {
  const up = this[kUp] as UpConn;
  up.errorCode ??= error.code ?? 'EUNKNOWN';
}

function onUpDrain(this: UpSocket): void {
  const ex = (this[kUp] as UpConn).ex;
  if (ex === undefined) return;
  try {
    if (faultProbe !== undefined) faultProbe('worker.drain');
    resumeConn(ex.conn, PAUSE_UPSTREAM_FULL);
  } catch (error) {
    (this[kUp] as UpConn).fault('worker.drain', error);
  }
}

/** Bytes from a worker socket the parser does not consume: parse them here. */
function onUpData(this: UpSocket, chunk: Buffer): void {
  const up = this[kUp] as UpConn;
  if (up.ex === undefined) return up.destroy();
  up.lastReadAt = Date.now();
  afterUpParse(up, up.parser.execute(chunk), chunk);
}

/** The parser read and parsed a chunk from the worker socket itself (the exchange may be over by now). */
function onUpExecute(this: OwnedParser, ret: number | ParseError): void {
  const up = this.up as UpConn;
  up.lastReadAt = Date.now();
  afterUpParse(up, ret, undefined);
}

function afterUpParse(up: UpConn, ret: number | ParseError, chunk: Buffer | undefined): void {
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

function onUpEnd(this: UpSocket): void {
  const up = this[kUp] as UpConn;
  up.dead = true;
  const ex = up.ex;
  try {
    if (faultProbe !== undefined) faultProbe('worker.eof');
    // A response framed by the end of the connection is complete now.
    if (ex !== undefined && ex.responded) {
      const error = up.parser.finish();
      if (error === undefined && ex.outHead !== undefined && !ex.finished) flushHead(ex);
    }
  } catch (error) {
    up.fault('worker.eof', error);
  }
}

function onUpClose(this: UpSocket): void {
  const up = this[kUp] as UpConn;
  up.dead = true;
  if (up.timer !== undefined) {
    clearTimeout(up.timer);
    up.timer = undefined;
  }
  leavePool(up);
  if (up.consumed) up.parser.unconsume();
  setImmediate(closeParser, up.parser);
  const ex = up.ex;
  if (ex === undefined) return;
  up.ex = undefined;
  if (ex.up === up) ex.up = undefined;
  if (ex.finished) return;
  try {
    if (faultProbe !== undefined) faultProbe('worker.close');
    if (ex.responded) {
      // The worker's connection ended mid-response: the client must see a failure, not a short answer.
      abort(ex);
      ex.conn.socket.destroy();
      return;
    }
    upstreamFailed(ex, up);
  } catch (error) {
    up.fault('worker.close', error);
    failConn(ex.conn, 502, 'Bad Gateway');
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
      const routeSetCookie = accountResponse(conn.state.route, ex.upstream as Upstream, ex.sessionId, headers);
      ex.responded = true;
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
    // The worker made or ended the session whether or not the client is still there.
    const routeSetCookie = accountResponse(state.route, ex.upstream as Upstream, ex.sessionId, headers);
    const bodyless = ex.method === 'HEAD' || status === 204 || status === 304;
    const close = !ex.keepAlive || state.closing || conn.ended;
    const out = responseHead(status, reason ?? '', headers, bodyless, ex.http10, close, routeSetCookie);
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
function flushHead(ex: Exchange): void {
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
