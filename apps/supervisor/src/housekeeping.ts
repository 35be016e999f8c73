import { type WorkerMarker, isAlive } from '@handover/process-table';
import { residentMemory } from './process-stats';
import type { Runtime } from './runtime';
import { SessionHistory } from './session-history';
import type { Worker } from './worker';

/** Sessions examined per sweep slice: about 1–3 ms of work. */
const SWEEP_SLICE = 5_000;
const SWEEP_SLICE_MS = 2;
/** How long session samples are kept (in memory and in the state store). */
export const HISTORY_MS = 24 * 60 * 60 * 1000;

/**
 * The supervisor's periodic chores, off the proxy's path: expiring idle sessions in small
 * slices, and sampling session counts (for the console's chart) and each live worker's memory.
 */
export class Housekeeping {
  readonly history: SessionHistory;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sampleTimer: NodeJS.Timeout | null = null;
  private sweepContinues = false;

  constructor(
    private readonly rt: Runtime,
    private readonly sweepIntervalMs: number,
    private readonly sampleIntervalMs: number,
  ) {
    this.history = new SessionHistory(Math.ceil(HISTORY_MS / sampleIntervalMs));
  }

  /** Every worker alive, or ended at or after `sinceMs`, with the moments of its life. */
  markers(sinceMs: number): WorkerMarker[] {
    return this.rt.table
      .rows()
      .filter((worker) => worker.stoppedAt === null || worker.stoppedAt.getTime() >= sinceMs)
      .map((worker) => ({
        worker: worker.id,
        pool: worker.pool,
        revision: worker.revision,
        state: worker.state,
        startedAt: worker.startedAt?.toISOString() ?? null,
        readyAt: worker.readyAt?.toISOString() ?? null,
        detachedAt: worker.detachedAt?.toISOString() ?? null,
        stoppedAt: worker.stoppedAt?.toISOString() ?? null,
      }));
  }

  start(): void {
    this.sweepTimer = setInterval(() => this.sweepSessions(), this.sweepIntervalMs);
    this.sweepTimer.unref();
    this.sampleTimer = setInterval(() => void this.sample(), this.sampleIntervalMs);
    this.sampleTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.sampleTimer) clearInterval(this.sampleTimer);
  }

  private sweepSessions(): void {
    // Small slices, each its own macrotask, so even a mass expiry of a million sessions never
    // holds the event loop (and the proxy) for more than a couple of milliseconds.
    let unfinished = false;
    for (const pool of this.rt.pools.values()) if (!pool.sessions.sweep(SWEEP_SLICE, SWEEP_SLICE_MS).done) unfinished = true;
    if (unfinished && !this.rt.stopping && !this.sweepContinues) {
      this.sweepContinues = true;
      setImmediate(() => {
        this.sweepContinues = false;
        this.sweepSessions();
      });
    }
  }

  private async sample(): Promise<void> {
    const sessions: Record<string, number> = {};
    const alive: Worker[] = [];
    for (const worker of this.rt.table.rows()) {
      if (!isAlive(worker.state)) continue;
      sessions[worker.id] = worker.sessions;
      alive.push(worker);
    }
    this.history.record({ at: new Date().toISOString(), sessions });
    await Promise.all(
      alive.map(async (worker) => {
        const pid = worker.pid;
        if (pid != null) worker.memoryRss = await residentMemory(pid);
      }),
    );
  }
}
