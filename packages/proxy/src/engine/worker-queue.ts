/**
 * A worker's queue (HAProxy's server maxconn + timeout queue): with maxConnectionsPerWorker open
 * and none idle, an exchange waits here for the next connection that frees up or closes, at most
 * queueTimeoutMs (then 503).
 */
import type { Upstream } from '../types';
import { type Exchange, release, reply, sendOn } from './exchange';
import type { EngineState, WorkerPool } from './state';
import { openWorkerConnection, type UpConn } from './worker-connection';

/** The worker is full: the exchange waits in its queue. */
export function waitForConnection(ex: Exchange, state: EngineState, upstream: Upstream): void {
  ex.queuedAt = Date.now();
  (state.pools.get(upstream) as WorkerPool).waiting.push(ex);
}

/** Below maxConnectionsPerWorker (0: no limit): a new connection to this worker may open. */
export function canOpen(state: EngineState, upstream: Upstream): boolean {
  const limit = state.maxConnectionsPerWorker;
  return limit === 0 || (state.pools.get(upstream)?.open ?? 0) < limit;
}

/** The next exchange waiting for this worker that is still wanted (aborted ones are skipped). */
function nextWaiting(pool: WorkerPool): Exchange | undefined {
  const waiting = pool.waiting;
  while (waiting.length > 0) {
    const ex = waiting.shift() as Exchange;
    ex.queuedAt = 0;
    if (!ex.finished && !ex.conn.dead) return ex;
  }
  return undefined;
}

/** A worker connection came free: the oldest waiting exchange takes it. True when one did. */
export function handToWaiting(up: UpConn): boolean {
  const ex = nextWaiting(up.pool);
  if (ex === undefined) return false;
  sendOn(ex, up);
  return true;
}

/** A worker connection closed: the oldest waiting exchange gets a new one. */
export function openForWaiting(state: EngineState, pool: WorkerPool, upstream: Upstream): void {
  if (pool.waiting.length === 0 || !canOpen(state, upstream)) return;
  const ex = nextWaiting(pool);
  if (ex === undefined) return;
  const created = openWorkerConnection(state, upstream);
  created.ex = ex;
  ex.up = created;
}

/** Waited longer than queueTimeoutMs for a connection: 503. */
export function queueTimedOut(ex: Exchange): void {
  ex.queuedAt = 0;
  if (ex.finished) return;
  release(ex);
  reply(ex, 503, 'Service Unavailable', 'The worker is busy (all its connections in use); retry shortly.\n', true);
}
