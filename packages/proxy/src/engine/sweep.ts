/**
 * Timeouts, checked by one sweep per connectionsCheckingIntervalMs against timestamps the
 * connections keep: no timer per request. Each phase of an exchange has its own limit (see
 * state.ts DEFAULTS); whatever ends by a timeout gives its in-flight unit back, so a stuck
 * client or worker can never keep a detached worker from draining.
 */
import { type ClientConn, failConn } from './client-connection';
import { abort, type Exchange } from './exchange';
import { queueTimedOut } from './worker-queue';
import { faultProbe } from './guard';
import type { EngineState, WorkerPool } from './state';

/** How long a closing connection waits for the client's FIN (nginx lingering_timeout 5 s). */
const LINGER_MS = 5_000;

export function sweep(state: EngineState): void {
  const now = Date.now();
  for (const conn of state.conns) {
    try {
      sweepConnection(state, conn, now);
    } catch (error) {
      conn.fault('sweep', error);
    }
  }
  for (const pool of state.pools.values()) {
    closeExpiredIdle(pool, now);
    expireWaiting(state, pool, now);
  }
}

function expired(since: number, limitMs: number, now: number): boolean {
  return limitMs > 0 && now - since >= limitMs;
}

function sweepConnection(state: EngineState, conn: ClientConn, now: number): void {
  if (faultProbe !== undefined) faultProbe('sweep');
  // A client that stopped reading what it asked for.
  if (conn.stalledSince !== 0 && expired(conn.stalledSince, state.sendTimeoutMs, now)) {
    state.counters.timeouts++;
    if (conn.current !== undefined) abort(conn.current);
    conn.broken = true;
    conn.socket.destroy();
    return;
  }
  // A closing connection whose client neither reads to its end nor closes (lingering close).
  if (conn.lingerSince !== 0) {
    if (expired(conn.lingerSince, LINGER_MS, now)) conn.socket.destroy();
    return;
  }
  if (conn.broken) return;
  if (conn.inMessage) {
    const late = conn.headDone
      ? expired(conn.msgStart, state.requestTimeoutMs, now) || (conn.paused === 0 && expired(conn.lastReadAt, state.bodyIdleTimeoutMs, now))
      : expired(conn.msgStart, state.headersTimeoutMs, now);
    if (late) {
      state.counters.timeouts++;
      return failConn(conn, 408, 'Request Timeout');
    }
  } else if (conn.current === undefined && expired(conn.idleSince, state.keepAliveCloseMs, now)) {
    conn.broken = true;
    conn.socket.destroy();
    return;
  }
  const ex = conn.current;
  const up = ex?.up;
  if (ex === undefined || up === undefined || !ex.headSent || ex.finished) return;
  if (!ex.responded) {
    // No answer since the request was sent (or since the last 1xx): 504.
    const limit = ex.upgrade ? state.upgradeTimeoutMs : state.responseTimeoutMs;
    if (ex.sentAt > 0 && expired(Math.max(ex.sentAt, up.lastReadAt), limit, now)) {
      state.counters.timeouts++;
      up.errorCode = 'ETIMEDOUT';
      up.destroy();
    }
  } else if (conn.stalledSince === 0 && expired(up.lastReadAt, state.upstreamIdleTimeoutMs, now)) {
    // The body stopped coming mid-response: the client sees a failure, never a short answer.
    state.counters.timeouts++;
    abort(ex);
    conn.socket.destroy();
  }
}

/** Requests that waited longer than queueTimeoutMs for a worker connection, oldest first. */
function expireWaiting(state: EngineState, pool: WorkerPool, now: number): void {
  const waiting = pool.waiting;
  while (waiting.length > 0) {
    const ex = waiting[0] as Exchange;
    if (!ex.finished && !expired(ex.queuedAt, state.queueTimeoutMs, now)) break;
    waiting.shift();
    if (!ex.finished) state.counters.timeouts++;
    try {
      queueTimedOut(ex);
    } catch (error) {
      ex.conn.fault('sweep', error);
    }
  }
}

/** Pooled worker connections past their idle limit, oldest first. */
function closeExpiredIdle(pool: WorkerPool, now: number): void {
  const list = pool.idle;
  while (list.length > 0) {
    const up = list[0];
    if (up === undefined || now - up.idleSince < up.idleLimitMs) break;
    list.shift();
    up.destroy();
  }
}
