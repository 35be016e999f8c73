import { join } from 'node:path';
import { ProcessTable, type WorkerMarker } from '@handover/process-table';
import type { EventLog, NewEvent } from './event-log';
import { removeLogFiles } from './log-rotation';
import type { LogFiles } from './log-tail';
import type { Pool } from './pool';
import type { SessionReportChannel } from './session-report-channel';
import type { StateStore } from './state-store';
import type { Worker } from './worker';

/** Ended workers kept per pool for the record (the event log keeps the full history). */
const KEEP_ENDED_WORKERS = 5;

/**
 * What every part of the supervisor shares: the process table, the pools, the store, the event
 * log and whether it is stopping. The parts (starting, drain, liveness, crash replacement,
 * re-adoption, config reload) are functions of a Runtime; `Supervisor` owns the one instance.
 */
export class Runtime {
  readonly table: ProcessTable<Worker>;
  readonly pools = new Map<string, Pool>();
  /** Stopping (a shutdown or a leave): no starts, no replacements, no drain decisions. */
  stopping = false;
  /** Leaving on purpose with the workers left running (`handover stop --keep-workers`). */
  leaving = false;
  /** Re-adopted detached workers whose restored sessions are still unconfirmed (see readoption.ts). */
  readonly reconcileTimers = new Map<Worker, NodeJS.Timeout>();
  /** Where workers post session reports no response can carry; null without a control API. */
  reportChannel: SessionReportChannel | null = null;
  /**
   * The moments of every worker's life (the chart's markers), kept after its row is pruned from
   * the table and, through the store, across restarts (see housekeeping.ts).
   */
  readonly markers = new Map<string, WorkerMarker>();

  constructor(
    private readonly events: EventLog,
    readonly store: StateStore | null,
    private readonly logsDir: string,
    /** Environment every worker inherits (no HANDOVER_* variable). */
    readonly workerEnv: NodeJS.ProcessEnv,
  ) {
    this.table = new ProcessTable<Worker>({
      keepEnded: KEEP_ENDED_WORKERS,
      onChange: (worker) => this.persist(worker),
      onTarget: (pool, target, targets) => {
        const found = this.pools.get(pool);
        if (found === undefined) return;
        found.route.target = target;
        found.route.targets = targets;
      },
    });
  }

  record(event: NewEvent): void {
    this.events.record(event);
  }

  /** Adds a new row to the table; the ended rows it prunes lose their record and their logs. */
  addWorker(worker: Worker): void {
    for (const pruned of this.table.add(worker)) {
      this.store?.deleteWorker(pruned.id);
      this.removeLogs(pruned.id);
    }
  }

  logFiles(id: string): LogFiles {
    return { stdout: join(this.logsDir, `${id}.out.log`), stderr: join(this.logsDir, `${id}.err.log`) };
  }

  removeLogs(id: string): void {
    removeLogFiles(this.logFiles(id));
  }

  /** Records a worker's row in the store (on every state change), and its markers. */
  persist(worker: Worker): void {
    const marker: WorkerMarker = {
      worker: worker.id,
      pool: worker.pool,
      revision: worker.revision,
      state: worker.state,
      startedAt: isoOrNull(worker.startedAt),
      readyAt: isoOrNull(worker.readyAt),
      detachedAt: isoOrNull(worker.detachedAt),
      stoppedAt: isoOrNull(worker.stoppedAt),
    };
    this.markers.set(worker.id, marker);
    const store = this.store;
    if (store === null || this.leaving || !store.isOpen) return;
    store.saveWorker({
      id: worker.id,
      pool: worker.pool,
      generation: worker.generation,
      port: worker.port,
      revision: worker.revision,
      state: worker.state,
      pid: worker.pid,
      pidStartTime: worker.process?.startTime ?? null,
      startedAt: isoOrNull(worker.startedAt),
      readyAt: isoOrNull(worker.readyAt),
      detachedAt: isoOrNull(worker.detachedAt),
      stoppedAt: isoOrNull(worker.stoppedAt),
      updatedAt: new Date().toISOString(),
    });
    store.saveMarker(marker);
  }
}

function isoOrNull(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}
