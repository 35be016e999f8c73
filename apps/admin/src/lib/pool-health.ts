import type { HandoverEvent, PoolInfo, WorkerInfo } from '@handover/process-table';
import { servingRevisions } from './workers';

/**
 * What a pool's header must say beyond the supervisor's crash-loop status (#10, items 4 and
 * 10): the configured revision is not the one serving (drift), the last deploy failed, the
 * last configuration read was refused. Worked out from the workers and the event log, which
 * the page has anyway.
 */
export interface PoolAttention {
  /** The file differs from what runs: the revisions and one line per difference; null without drift. */
  drift: { configured: string; running: string[]; changes: string[] } | null;
  /** The newest start of this pool failed and nothing started since: the worker and why. */
  deployFailed: { worker: string; message: string; at: string } | null;
  /** The configuration file is refused: why (and since when, when known). */
  configRejected: { message: string; at: string | null } | null;
  /**
   * Workers starting now (a deploy under way). Drift is not shown meanwhile: the old worker
   * still runs the old revision and both count as attached until the new one is ready.
   */
  starting: string[];
}

export function driftOf(pool: PoolInfo, workers: readonly WorkerInfo[]): PoolAttention['drift'] {
  const running = servingRevisions(pool.name, workers);
  if (running.length === 0 || running.every((revision) => revision === pool.revision)) return null;
  return { configured: pool.revision, running, changes: running.filter((r) => r !== pool.revision).map((r) => `revision ${r} → ${pool.revision}`) };
}

/**
 * The supervisor's own word when it sends it (PoolInfo.drift, configError, deployFailure: the
 * file is watched, so an edit shows before any sync); else worked out from the workers and the
 * event log (a supervisor from before #10). `events` newest first, as the timeline keeps them.
 */
export function poolAttention(pool: PoolInfo, workers: readonly WorkerInfo[], events: readonly HandoverEvent[]): PoolAttention {
  const derived = fromEvents(pool, workers, events);
  const drift = pool.drift;
  const failure = pool.deployFailure;
  const configError = pool.configError;
  const starting = workers.filter((w) => w.pool === pool.name && w.state === 'starting').map((w) => w.id);
  return {
    starting,
    drift:
      starting.length > 0
        ? null
        : drift === undefined
        ? derived.drift
        : drift === null
          ? null
          : { configured: drift.configuredRevision, running: drift.runningRevisions, changes: drift.changes },
    deployFailed:
      failure === undefined ? derived.deployFailed : failure === null ? null : { worker: failure.worker, message: failure.reason, at: failure.at },
    configRejected: configError === undefined ? derived.configRejected : configError === null ? null : { message: configError, at: null },
  };
}

function fromEvents(pool: PoolInfo, workers: readonly WorkerInfo[], events: readonly HandoverEvent[]): PoolAttention {
  let deployFailed: PoolAttention['deployFailed'] = null;
  let configRejected: PoolAttention['configRejected'] = null;
  let deployDecided = false;
  let configDecided = false;
  for (const event of events) {
    if (!deployDecided && event.pool === pool.name && (event.type === 'worker.started' || event.type === 'worker.failed')) {
      deployDecided = true;
      // A port lost to another process is retried on the next generation at once: not a failed deploy.
      if (event.type === 'worker.failed' && !(event.data !== null && 'retry' in event.data)) {
        deployFailed = { worker: event.worker ?? pool.name, message: event.message, at: event.at };
      }
    }
    if (!configDecided && (event.type === 'config.reloaded' || event.type === 'config.rejected')) {
      configDecided = true;
      if (event.type === 'config.rejected') configRejected = { message: event.message, at: event.at };
    }
    if (deployDecided && configDecided) break;
  }
  return { drift: driftOf(pool, workers), deployFailed, configRejected, starting: [] };
}
