/** Events about a pool (crash loop, sync) and its sessions (lost, reconciled, at the limit). */
import type { SessionLimitInfo } from '@handover/session-table';
import type { NewEvent } from '../event-log';
import type { RestoredCounts } from '../restored-sessions';
import { SUPERVISOR, count, firstLine, seconds, wasWere } from './format';

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

export function poolSynced(
  actor: string,
  pool: string,
  revision: string,
  instances: number,
  started: string[],
  error: string | null,
  detached: string[] = [],
): NewEvent {
  return {
    type: 'pool.synced',
    actor,
    pool,
    message:
      error !== null
        ? `sync of ${pool} failed: ${firstLine(error)}` + (started.length > 0 ? ` (started ${started.join(', ')} before that)` : '')
        : started.length === 0
          ? `${pool} is up to date: ${instances} attached ${instances === 1 ? 'worker' : 'workers'} on revision ${revision}; nothing to start`
          : `sync of ${pool} started ${started.join(', ')} on revision ${revision}` + (detached.length > 0 ? `; detached ${detached.join(', ')}` : ''),
    data: { started, detached, error },
  };
}

/** Why sessions were lost, in the words of the event; the key is the `reason` in its data. */
const LOST_BECAUSE = {
  crash: (n: number) => `${wasWere(n)} lost when it crashed`,
  unhealthy: (n: number) => `${wasWere(n)} lost: it stopped answering its health check`,
  'not-readopted': (n: number) => `${wasWere(n)} lost: it could not be re-adopted`,
} as const;

export function sessionsLost(pool: string, worker: string, lost: number, reason: keyof typeof LOST_BECAUSE): NewEvent {
  return {
    type: 'sessions.lost',
    actor: SUPERVISOR,
    pool,
    worker,
    message: `${count(lost, 'session')} of ${worker} ${LOST_BECAUSE[reason](lost)}`,
    data: { count: lost, reason },
  };
}

export function drainTimedOut(
  pool: string,
  worker: string,
  maxSeconds: number | null,
  left: { sessions: number; inFlight: number; webSockets: number },
  lost: number,
): NewEvent {
  return {
    type: 'sessions.lost',
    actor: SUPERVISOR,
    pool,
    worker,
    message: `${worker} reached the maximum drain time of ${maxSeconds}s with ${leftOver(left)} left; stopping it anyway`,
    data: { count: lost, inFlight: left.inFlight, webSockets: left.webSockets, reason: 'drain-timeout' },
  };
}

/** The operator stopped a detached worker before its drain ended (`workers.stopNow`). */
export function drainStoppedNow(
  pool: string,
  worker: string,
  actor: string,
  left: { sessions: number; inFlight: number; webSockets: number },
  lost: number,
): NewEvent {
  return {
    type: 'sessions.lost',
    actor,
    pool,
    worker,
    message: `${actor} stopped ${worker} before its drain ended, with ${leftOver(left)} left; ${count(lost, 'session')} ${wasWere(lost)} lost`,
    data: { count: lost, inFlight: left.inFlight, webSockets: left.webSockets, reason: 'stopped-now' },
  };
}

/** `2 sessions, 1 request and 0 WebSockets`. */
function leftOver(left: { sessions: number; inFlight: number; webSockets: number }): string {
  return `${count(left.sessions, 'session')}, ${count(left.inFlight, 'request')} and ${count(left.webSockets, 'WebSocket')}`;
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
        ? `${count(dropped, 'restored session')} of ${worker} ${wasWere(dropped)} dropped: no request carried them and the app did not report them within ${windowSeconds}s of the restart (most likely ended just before the previous supervisor died)`
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
