/**
 * A connection to a worker: its socket, its response parser (callbacks in response-parser.ts),
 * and the per-worker pool it goes back to between requests (LIFO, bounded, with an idle limit that follows the worker's
 * Keep-Alive hint). Every handler is an entry from I/O and runs inside the fault guard.
 */
import net, { type Socket } from 'node:net';
import type { Upstream } from '../types';
import { failConn, PAUSE_UPSTREAM_FULL, resumeConn } from './client-connection';
import { abort, type Exchange, sendHead, upstreamFailed } from './exchange';
import { handToWaiting, openForWaiting } from './worker-queue';
import { type EntryPoint, faultProbe, recordFault } from './guard';
import { HTTPParser, PARSER_RESOURCE, RESPONSE, STRICT } from './llhttp';
import { afterUpParse, flushHead, listenToResponses } from './response-parser';
import { closeParser, consume, handOver, listenTo, type OwnedParser, type SocketHandlers, startReading, stopListening } from './sockets';
import { type EngineState, MAX_IDLE_PER_UPSTREAM, type WorkerPool } from './state';

const kUp = Symbol('handover.up');
const WORKER_SOCKET_HANDLERS: SocketHandlers = [
  ['connect', onUpConnect],
  ['data', onUpData],
  ['end', onUpEnd],
  ['close', onUpClose],
  ['error', onUpError],
  ['drain', onUpDrain],
];
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
    listenToResponses(parser);
    parser.conn = undefined;
    parser.up = this;
    this.parser = parser;
    const socket = net.connect({ host: upstream.host, port: upstream.port, noDelay: true }) as UpSocket;
    this.consumed = consume(parser, socket);
    socket[kUp] = this;
    listenTo(socket, WORKER_SOCKET_HANDLERS);
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
    stopListening(socket, WORKER_SOCKET_HANDLERS);
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
  if (pool === undefined) state.pools.set(upstream, (pool = { idle: [], open: 0, waiting: [] }));
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

export function toPool(up: UpConn): void {
  up.ex = undefined;
  startReading(up.socket, up.consumed);
  if (!up.state.closing && !up.dead && handToWaiting(up)) return;
  const list = up.pool.idle;
  if (up.state.closing || up.dead || list.length >= MAX_IDLE_PER_UPSTREAM) {
    up.destroy();
    return;
  }
  up.idleSince = Date.now();
  list.push(up);
}

function leavePool(up: UpConn): void {
  const pool = up.pool;
  const at = pool.idle.indexOf(up);
  if (at !== -1) pool.idle.splice(at, 1);
  if (up.counted) {
    up.counted = false;
    pool.open--;
    openForWaiting(up.state, pool, up.upstream);
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

