/**
 * `workers.drain`: what a worker still holds — its sessions with truncated ids, when each was
 * last seen and expires by the idle timeout, what is open — and, when it is detached, its
 * deadline (`drain.maxSeconds`) and an ETA: the latest expiry among its sessions, capped by the
 * deadline. A session in use (a request or WebSocket under way) does not expire by itself, nor
 * does an open WebSocket without a session: then only the deadline ends the drain.
 */
import { truncateSessionId } from '@handover/control-api/server';
import { type DrainInfo, type DrainSession, isAlive } from '@handover/process-table';
import type { Pool } from './pool';
import type { Worker } from './worker';

/**
 * A scan of the session table costs about 0.1–0.2 ms per thousand sessions on the event loop the
 * proxy shares: with a large table, an answer is reused for a few seconds (a console polling the
 * drain of a worker must not stall every request for 100 ms each time).
 */
const LARGE_TABLE = 50_000;
const REUSE_MS = 5_000;
const recent = new WeakMap<Worker, { at: number; limit: number; info: DrainInfo }>();

export function drainInfo(pool: Pool, worker: Worker, limit: number): DrainInfo {
  const now = Date.now();
  if (pool.sessions.size > LARGE_TABLE) {
    const cached = recent.get(worker);
    if (cached !== undefined && now - cached.at < REUSE_MS && cached.limit >= limit && cached.info.state === worker.state) {
      const remaining = cached.info.remaining.slice(0, limit);
      return { ...cached.info, remaining, truncated: cached.info.sessions > remaining.length || cached.info.truncated };
    }
    const info = measure(pool, worker, limit);
    recent.set(worker, { at: now, limit, info });
    return info;
  }
  return measure(pool, worker, limit);
}

function measure(pool: Pool, worker: Worker, limit: number): DrainInfo {
  const detached = worker.state === 'detached';
  // The latest to expire first; the first of them is the ETA's. Limit 0 still needs that one.
  const { count, latest } = isAlive(worker.state) ? pool.sessions.sessionsOf(worker, Math.max(1, limit)) : { count: 0, latest: [] };
  const remaining: DrainSession[] = latest.slice(0, limit).map((s) => ({
    id: truncateSessionId(s.id),
    lastSeenAt: new Date(s.lastUsedAt).toISOString(),
    expiresAt: new Date(s.expiresAt).toISOString(),
    open: s.open,
  }));
  const deadline = detached ? (worker.drainDeadline?.getTime() ?? null) : null;
  let eta: number | null = null;
  let etaBasis: DrainInfo['etaBasis'] = 'unknown';
  if (detached) {
    if (worker.webSockets > 0) {
      // An open WebSocket (and its session) never expires: only its user or the deadline ends it.
      // A request under way renewed its session as it began, so that expiry still holds.
      [eta, etaBasis] = deadline === null ? [null, 'unknown'] : [deadline, 'deadline'];
    } else if (latest.length === 0) {
      // Nothing left but requests under way, which end on their own.
      [eta, etaBasis] = [Date.now(), 'empty'];
    } else {
      const last = latest[0]!.expiresAt;
      [eta, etaBasis] = deadline !== null && deadline < last ? [deadline, 'deadline'] : [last, 'sessions'];
    }
  }
  return {
    worker: worker.id,
    state: worker.state,
    detachedAt: worker.detachedAt?.toISOString() ?? null,
    sessions: worker.sessions,
    inFlight: worker.inFlight,
    webSockets: worker.webSockets,
    maxSeconds: pool.config.drain.maxSeconds,
    deadline: deadline === null ? null : new Date(deadline).toISOString(),
    eta: eta === null ? null : new Date(eta).toISOString(),
    etaBasis,
    remaining,
    truncated: count > remaining.length,
  };
}
