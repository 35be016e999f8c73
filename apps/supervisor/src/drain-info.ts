/**
 * `workers.drain`: what a worker still holds — its sessions with truncated ids, when each was
 * last seen and expires by the idle timeout, what is open — and, when it is detached, its
 * deadline (`drain.maxSeconds`) and an ETA: the latest expiry among its sessions, capped by the
 * deadline. A session in use (a request or WebSocket under way) does not expire by itself, nor
 * does an open WebSocket without a session: then only the deadline ends the drain.
 */
import { truncateSessionId } from '@handover/control-api';
import { type DrainInfo, type DrainSession, isAlive } from '@handover/process-table';
import type { Pool } from './pool';
import type { Worker } from './worker';

export function drainInfo(pool: Pool, worker: Worker, limit: number): DrainInfo {
  const detached = worker.state === 'detached';
  const sessions = isAlive(worker.state) ? pool.sessions.sessionsOf(worker) : [];
  // The ones that keep it up longest first.
  sessions.sort((a, b) => b.expiresAt - a.expiresAt);
  const remaining: DrainSession[] = sessions.slice(0, limit).map((s) => ({
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
    } else if (sessions.length === 0) {
      // Nothing left but requests under way, which end on their own.
      [eta, etaBasis] = [Date.now(), 'empty'];
    } else {
      const latest = sessions[0]!.expiresAt;
      [eta, etaBasis] = deadline !== null && deadline < latest ? [deadline, 'deadline'] : [latest, 'sessions'];
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
    truncated: sessions.length > remaining.length,
  };
}
