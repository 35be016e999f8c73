/** Events about a pool (crash loop, sync) and its sessions (lost, reconciled, at the limit). */
import type { SessionLimitInfo } from '@handover/session-table';
import type { NewEvent } from '../event-log';
import type { RestoredCounts } from '../restored-sessions';
import { SUPERVISOR, firstLine, seconds } from './format';

export function poolErrored(pool: string, message: string): NewEvent {
  return { type: 'pool.errored', actor: SUPERVISOR, pool, message };
}

export function poolBackoff(pool: string, delayMs: number, attempt: number, maxRestarts: number): NewEvent {
  return {
    type: 'pool.backoff',
    actor: SUPERVISOR,
    pool,
    message: `restarting ${pool} in ${seconds(delayMs)} (attempt ${attempt} of ${maxRestarts})`,
    data: { delayMs, attempt },
  };
}

export function poolSynced(actor: string, pool: string, revision: string, instances: number, started: string[], error: string | null): NewEvent {
  return {
    type: 'pool.synced',
    actor,
    pool,
    message:
      error !== null
        ? `sync of ${pool} failed: ${firstLine(error)}`
        : started.length === 0
          ? `${pool} already has ${instances} attached worker(s); nothing to start`
          : `sync of ${pool} started ${started.join(', ')} on revision ${revision}`,
    data: { started, error },
  };
}

/** Why sessions were lost, in the words of the event; the key is the `reason` in its data. */
const LOST_BECAUSE = {
  crash: 'were lost when it crashed',
  unhealthy: 'were lost: it stopped answering its health check',
  'not-readopted': 'were lost: it could not be re-adopted',
} as const;

export function sessionsLost(pool: string, worker: string, count: number, reason: keyof typeof LOST_BECAUSE): NewEvent {
  return {
    type: 'sessions.lost',
    actor: SUPERVISOR,
    pool,
    worker,
    message: `${count} session(s) of ${worker} ${LOST_BECAUSE[reason]}`,
    data: { count, reason },
  };
}

export function drainTimedOut(
  pool: string,
  worker: string,
  maxSeconds: number | null,
  left: { sessions: number; inFlight: number; webSockets: number },
  count: number,
): NewEvent {
  return {
    type: 'sessions.lost',
    actor: SUPERVISOR,
    pool,
    worker,
    message: `${worker} reached the maximum drain time of ${maxSeconds}s with ${left.sessions} session(s), ${left.inFlight} request(s) and ${left.webSockets} WebSocket(s) left; stopping it anyway`,
    data: { count, inFlight: left.inFlight, webSockets: left.webSockets, reason: 'drain-timeout' },
  };
}

export function sessionsReconciled(pool: string, worker: string, state: string, counts: RestoredCounts, windowSeconds: number, detached: boolean): NewEvent {
  const { restored, confirmed, ended, dropped } = counts;
  return {
    type: 'sessions.reconciled',
    actor: SUPERVISOR,
    pool,
    worker,
    message:
      (dropped > 0
        ? `${dropped} restored session(s) of ${worker} were dropped: no request carried them and the app did not report them within ${windowSeconds}s of the restart (most likely ended just before the previous supervisor died)`
        : `no restored session of ${worker} was dropped`) +
      `; of ${restored} restored, ${confirmed} confirmed, ${ended} ended since` +
      (detached ? '' : ` (it is ${state} now, so none were dropped)`),
    data: { restored, confirmed, ended, dropped, windowSeconds },
  };
}

export function sessionLimitMessage(pool: string, info: SessionLimitInfo): string {
  return (
    `${pool} holds its maximum of ${info.maxSessions} sessions (pools[].maxSessions): new sessions now take the place of ` +
    'the least recently used ones (none with a request or WebSocket under way, none on a detached worker), or go untracked'
  );
}

export function sessionLimit(pool: string, info: SessionLimitInfo): NewEvent {
  return { type: 'sessions.limit', actor: SUPERVISOR, pool, message: sessionLimitMessage(pool, info), data: { ...info } };
}
