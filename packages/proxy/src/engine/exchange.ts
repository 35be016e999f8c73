/**
 * One request on its way through the proxy, and its life: start (the request steps), dispatch
 * to a worker connection, finish (answered and read), abort (the client or the worker is gone),
 * and the proxy's own answers. In-flight accounting belongs here: `upstream.lease` counts a request up
 * once per dispatch and comes down exactly once (release), whatever ends the exchange.
 */
import { fallbackUpstream } from '../passes/choose-upstream';
import type { SessionPin } from '@handover/session-table';
import type { Upstream } from '../types';
import { type ClientConn, endConn, pauseConn, PAUSE_CONNECTING, PAUSE_PIPELINED, PAUSE_UPSTREAM_FULL, resumeConn } from './client-connection';
import { BODY_CHUNKED, BODY_NONE, type BodyKind, OUT_NONE, type OutMode } from './heads';
import { runRequestSteps } from './request-steps';
import { endActive, notifyRelease } from './state';
import { openWorkerConnection, takeIdle, type UpConn } from './worker-connection';
import { canOpen, waitForConnection } from './worker-queue';

export class Exchange {
  sessionId: string | undefined = undefined;
  upstream: Upstream | undefined = undefined;
  /** The authority of an absolute-form target; replaces Host. */
  authority: string | undefined = undefined;
  /** Holds one unit of upstream.inFlight. */
  counted = false;
  /** Keeps the request's session from eviction while it is under way (released with inFlight). */
  pin: SessionPin | undefined = undefined;
  /** Counted in state.active. */
  active = false;
  up: UpConn | undefined = undefined;
  head = '';
  body: BodyKind = BODY_NONE;
  /** Body chunks parsed before the worker connection was up (sent once it is). */
  pending: Buffer[] | undefined = undefined;
  /** The client's request has been parsed to its end. */
  requestDone = false;
  /** The head went to the worker. */
  headSent = false;
  bodyStarted = false;
  connected = false;
  reused = false;
  retried = false;
  /** When the request's message began (Date.now(), from the parser's message-begin). */
  startedAt = 0;
  /** When the whole request reached the worker's socket (the response timeout runs from here). */
  sentAt = 0;
  /** Since when it waits in its worker's queue for a connection (0: not waiting). */
  queuedAt = 0;
  /** A response head went (or is going) to the client. */
  responded = false;
  responseDone = false;
  /** The current response from the worker is a 1xx. */
  informational = false;
  /** The proxy answers itself, or the worker already did: the rest of the request body is read and dropped. */
  local = false;
  finished = false;
  out: OutMode = OUT_NONE;
  /** A response head not written yet (merged with the first body bytes). */
  outHead: string | undefined = undefined;
  /** A WebSocket handshake: never over a pooled connection, a tunnel once the worker answers 101. */
  upgrade = false;
  /** Bytes the client sent after its handshake head (early WebSocket frames). */
  early: Buffer | undefined = undefined;
  /** The worker switched protocols: the 101 head for the client, until the tunnel opens. */
  switching: string | undefined = undefined;
  constructor(
    readonly conn: ClientConn,
    readonly method: string,
    /** The request target; rewritten to origin form when it came in absolute form. */
    public url: string,
    readonly raw: string[],
    public keepAlive: boolean,
    readonly http10: boolean,
  ) {}
}

/** The exchange became current: answer it here or send it to a worker. */
export function start(ex: Exchange): void {
  const upstream = runRequestSteps(ex);
  if (upstream !== undefined) dispatch(ex, upstream, false);
}

/**
 * Sends the exchange to a worker (again, on a retry), counting it on the worker's lease. When
 * the worker has maxConnectionsPerWorker open and none idle, the exchange waits in the worker's
 * queue (HAProxy's server maxconn + timeout queue) for the next connection that frees up.
 */
export function dispatch(ex: Exchange, upstream: Upstream, fresh: boolean): void {
  const state = ex.conn.state;
  const up = fresh || ex.upgrade ? undefined : takeIdle(state, upstream);
  const full = up === undefined && !canOpen(state, upstream);
  // A handshake needs a connection of its own, never a freed one: no queue for it.
  if (full && ex.upgrade) return reply(ex, 503, 'Service Unavailable', 'The worker has too many connections; retry shortly.\n', true);
  ex.upstream = upstream;
  upstream.lease.requestStarted();
  ex.counted = true;
  if (ex.sessionId !== undefined) ex.pin = state.route.sessions.pin(ex.sessionId, upstream);
  ex.connected = false;
  ex.reused = false;
  if (up !== undefined) return sendOn(ex, up);
  // Hold the body back until the connection is up, so a refused connection can be retried.
  if (!ex.requestDone) pauseConn(ex.conn, PAUSE_CONNECTING);
  if (full) return waitForConnection(ex, state, upstream);
  const created = openWorkerConnection(state, upstream);
  created.ex = ex;
  ex.up = created;
}

/** Sends the exchange on a connection that is open already (an idle one, or one a queue hands over). */
export function sendOn(ex: Exchange, up: UpConn): void {
  up.ex = ex;
  ex.up = up;
  ex.reused = true;
  ex.connected = true;
  sendHead(ex, up);
}

export function sendHead(ex: Exchange, up: UpConn): void {
  const socket = up.socket;
  ex.headSent = true;
  const pending = ex.pending;
  if (pending === undefined) {
    socket.write(ex.requestDone && ex.body === BODY_CHUNKED ? `${ex.head}0\r\n\r\n` : ex.head, 'latin1');
  } else {
    ex.pending = undefined;
    socket.cork();
    socket.write(ex.head, 'latin1');
    for (const chunk of pending) writeBody(ex, up, chunk);
    if (ex.requestDone && ex.body === BODY_CHUNKED) socket.write('0\r\n\r\n', 'latin1');
    socket.uncork();
  }
  if (ex.requestDone) ex.sentAt = Date.now();
  if (ex.body !== BODY_NONE) ex.bodyStarted = true;
  resumeConn(ex.conn, PAUSE_CONNECTING);
}

export function writeBody(ex: Exchange, up: UpConn, chunk: Buffer): void {
  const socket = up.socket;
  let ok: boolean;
  if (ex.body === BODY_CHUNKED) {
    socket.cork();
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    ok = socket.write('\r\n', 'latin1');
    socket.uncork();
  } else ok = socket.write(chunk);
  if (!ok) pauseConn(ex.conn, PAUSE_UPSTREAM_FULL);
}

/** The client's request was read to its end: close the chunked body upstream, finish if answered. */
export function requestEnded(ex: Exchange): void {
  ex.requestDone = true;
  if (ex.finished) return;
  const up = ex.up;
  if (ex.headSent && up !== undefined && !ex.local) {
    if (ex.body === BODY_CHUNKED) up.socket.write('0\r\n\r\n', 'latin1');
    ex.sentAt = Date.now();
  }
  if (ex.responseDone) finish(ex);
}

/** An answer made by the proxy itself (healthz, 503, 502, 4xx). */
export function reply(ex: Exchange, status: number, reason: string, body: string, retryAfter: boolean, close = false): void {
  const conn = ex.conn;
  ex.local = true;
  ex.pending = undefined;
  resumeConn(conn, PAUSE_CONNECTING);
  if (ex.responded) {
    abort(ex);
    conn.socket.destroy();
    return;
  }
  ex.responded = true;
  ex.responseDone = true;
  conn.state.responses.recordOwn(status, Date.now() - ex.startedAt);
  if (close) conn.broken = true;
  const closeAfter = close || conn.state.closing || !ex.keepAlive;
  if (!conn.dead) {
    conn.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        (retryAfter ? 'Retry-After: 1\r\n' : '') +
        (closeAfter ? 'Connection: close\r\n' : '') +
        // A HEAD answer says the length but sends no body (the fuzzer found the body read as the next answer).
        (ex.method === 'HEAD' ? '\r\n' : `\r\n${body}`),
    );
  }
  if (close || ex.requestDone) finish(ex);
}

/** The exchange is over (answered, and its request read): free the connection for the next. */
export function finish(ex: Exchange): void {
  if (ex.finished) return;
  ex.finished = true;
  const conn = ex.conn;
  const state = conn.state;
  release(ex);
  if (conn.current === ex) conn.current = undefined;
  const queue = conn.queue;
  if (!ex.keepAlive || conn.broken) {
    endConn(conn);
  } else if (queue !== undefined && queue.length > 0) {
    const next = queue.shift() as Exchange;
    conn.current = next;
    resumeConn(conn, PAUSE_PIPELINED);
    // Not from inside the worker's parser callback that got us here.
    process.nextTick(startNext, next);
  } else if (conn.finalAnswer !== undefined) {
    // The requests before a refused one are answered: now its answer, then the close.
    if (!conn.dead) conn.write(conn.finalAnswer);
    conn.finalAnswer = undefined;
    endConn(conn);
  } else if (state.closing || conn.ended) {
    endConn(conn);
  } else {
    conn.idleSince = Date.now();
  }
  if (ex.active) {
    ex.active = false;
    endActive(state);
  }
}

function startNext(ex: Exchange): void {
  if (ex.finished || ex.conn.dead || ex.upstream !== undefined || ex.local) return;
  try {
    start(ex);
  } catch (error) {
    ex.conn.fault('client.parsed', error);
  }
}

/** Gives back the exchange's unit of inFlight, exactly once per dispatch. */
export function release(ex: Exchange): void {
  if (!ex.counted) return;
  ex.counted = false;
  if (ex.pin !== undefined) {
    ex.conn.state.route.sessions.unpin(ex.pin);
    ex.pin = undefined;
  }
  const upstream = ex.upstream as Upstream;
  upstream.lease.requestFinished();
  notifyRelease(ex.conn.state, upstream);
}

/** The client is gone or the exchange cannot go on: stop the worker's side too. */
export function abort(ex: Exchange): void {
  if (ex.finished) return;
  ex.finished = true;
  const up = ex.up;
  if (up !== undefined) {
    ex.up = undefined;
    up.ex = undefined;
    up.destroy();
  }
  release(ex);
  if (ex.active) {
    ex.active = false;
    endActive(ex.conn.state);
  }
}

function isIdempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** No response came: retry once where nothing is lost or doubled, else 502. */
export function upstreamFailed(ex: Exchange, up: UpConn): void {
  if (ex.conn.dead) return abort(ex);
  let next: Upstream | undefined;
  if (!ex.retried && !ex.bodyStarted) {
    const failed = ex.upstream as Upstream;
    if (!ex.connected) next = fallbackUpstream(ex.conn.state.route, failed);
    else if (ex.reused && ex.body === BODY_NONE && isIdempotent(ex.method) && (up.errorCode === undefined || up.errorCode === 'ECONNRESET')) {
      // A pooled connection the worker closed just as it was reused: a fresh one to the same worker.
      next = failed.routable ? failed : undefined;
    }
  }
  if (next !== undefined) {
    ex.retried = true;
    ex.headSent = false;
    release(ex);
    dispatch(ex, next, true);
    return;
  }
  release(ex);
  if (up.errorCode === 'ETIMEDOUT' && ex.connected) return reply(ex, 504, 'Gateway Timeout', 'Gateway Timeout: the worker did not answer in time\n', false);
  reply(ex, 502, 'Bad Gateway', 'Bad Gateway: the worker could not be reached\n', false);
}

/** The worker's bytes cannot be a response to this request (malformed, a 101 nobody asked for): 502. */
export function badResponse(up: UpConn, ex: Exchange): void {
  up.ex = undefined;
  ex.up = undefined;
  up.destroy();
  if (ex.finished) return;
  if (ex.responded) {
    abort(ex);
    ex.conn.socket.destroy();
    return;
  }
  release(ex);
  reply(ex, 502, 'Bad Gateway', 'Bad Gateway: invalid response from the worker\n', false);
}
