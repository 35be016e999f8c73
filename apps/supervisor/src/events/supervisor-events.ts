/** Events about the supervisor itself, operator actions and the configuration. */
import type { NewEvent } from '../event-log';
import type { KeeperRestart } from '../keeper';
import { SUPERVISOR, count, seconds } from './format';

/**
 * What runs: the build in dist/ (`npm run build`; what `npm start` and production run) or the
 * TypeScript sources through tsx (a development checkout). Seen from this module's own URL.
 */
export const RUNTIME: 'compiled' | 'source' = /\/dist\/[^/]*\.mjs$/.test(import.meta.url) ? 'compiled' : 'source';

export function supervisorStarted(configWarnings: string[], restart: KeeperRestart | undefined): NewEvent {
  const restartedBecause =
    restart === undefined ? undefined : `the previous supervisor (pid ${restart.previousPid}) died (${restart.cause}); restart ${restart.restartsInRow} in a row`;
  return {
    type: 'supervisor.started',
    actor: SUPERVISOR,
    message:
      `supervisor started (pid ${process.pid}, Node ${process.version}, ${RUNTIME})` +
      (restartedBecause === undefined ? '' : ` by the keeper: ${restartedBecause}`) +
      configWarnings.map((w) => `; configuration ${w}`).join(''),
    data: {
      node: process.version,
      runtime: RUNTIME,
      ...(configWarnings.length > 0 ? { warnings: configWarnings } : {}),
      ...(restart === undefined ? {} : { restartedBecause, keeperRestart: restart }),
    },
  };
}

/** Its own event, so the console and `handover events` show the loop, not just a restart. */
export function supervisorCrashLoop(restart: KeeperRestart): NewEvent {
  return {
    type: 'supervisor.crashLoop',
    actor: SUPERVISOR,
    message:
      `the supervisor keeps dying: restart ${restart.restartsInRow} in a row, the last one ended by ${restart.cause} (pid ${restart.previousPid}). ` +
      `The keeper restarts it for ever, waiting ${seconds(restart.delayMs)} this time (doubling up to ${seconds(restart.maxDelayMs)}), and keeps the ports open; ` +
      'find the cause in its output (stderr of `handover start`). `handover stop` stops everything.',
    data: {
      restartsInRow: restart.restartsInRow,
      lastPid: restart.previousPid,
      lastCause: restart.cause,
      delayMs: restart.delayMs,
      maxDelayMs: restart.maxDelayMs,
    },
  };
}

export function supervisorStopping(reason: string): NewEvent {
  return { type: 'supervisor.stopping', actor: SUPERVISOR, message: reason };
}

export function supervisorStopped(): NewEvent {
  return { type: 'supervisor.stopped', actor: SUPERVISOR, message: 'every worker stopped' };
}

export function supervisorLeft(left: string[]): NewEvent {
  return {
    type: 'supervisor.stopped',
    actor: SUPERVISOR,
    message: `supervisor stopped; ${count(left.length, 'worker')} left running for the next start to re-adopt${left.length ? `: ${left.join(', ')}` : ''}`,
    data: { keepWorkers: true, workers: left },
  };
}

/** An operator's action on a worker, recorded before it is carried out. */
export function workerAction(actor: string, pool: string, worker: string, what: string): NewEvent {
  return { type: 'action', actor, pool, worker, message: `${actor}: ${what}` };
}

export function syncAction(actor: string, pool: string | undefined): NewEvent {
  return { type: 'action', actor, pool: pool ?? null, message: `sync ${pool ?? 'all pools'}` };
}

export function stopAction(actor: string, keepWorkers: boolean, workers: string[]): NewEvent {
  return {
    type: 'action',
    actor,
    message: keepWorkers
      ? `${actor}: stop the supervisor and leave ${count(workers.length, 'worker')} running for the next start to re-adopt`
      : `${actor}: stop the supervisor and every worker`,
    data: { keepWorkers, workers },
  };
}

export function configRejected(actor: string, message: string): NewEvent {
  return { type: 'config.rejected', actor, message: `configuration not applied: ${message}` };
}

export function configReloaded(actor: string, revisions: Record<string, string>, notes: string[]): NewEvent {
  return {
    type: 'config.reloaded',
    actor,
    message:
      `configuration reloaded: ${Object.entries(revisions)
        .map(([pool, revision]) => `${pool} → ${revision}`)
        .join(', ')}` + (notes.length ? `; ${notes.join('; ')}` : ''),
    data: { revisions, notes },
  };
}

export function proxyFault(pool: string, message: string, stack: string | undefined): NewEvent {
  return { type: 'proxy.fault', actor: SUPERVISOR, pool, message, data: stack === undefined ? null : { stack } };
}
