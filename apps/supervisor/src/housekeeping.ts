import { isAlive } from '@handover/process-table';
import { residentMemory } from './process-stats';
import type { Runtime } from './runtime';
import { SessionHistory } from './session-history';
import type { Worker } from './worker';

/** Sessions examined per sweep slice: about 1–3 ms of work. */
const SWEEP_SLICE = 5_000;
const SWEEP_SLICE_MS = 2;
/** Ten minutes of samples at the default interval. */
const HISTORY_SAMPLES = 300;

/**
 * The supervisor's periodic chores, off the proxy's path: expiring idle sessions in small
 * slices, and sampling session counts (for the console's chart) and each live worker's memory.
 */
export class Housekeeping {
  readonly history = new SessionHistory(HISTORY_SAMPLES);
  private sweepTimer: NodeJS.Timeout | null = null;
  private sampleTimer: NodeJS.Timeout | null = null;
  private sweepContinues = false;

  constructor(
    private readonly rt: Runtime,
    private readonly sweepIntervalMs: number,
    private readonly sampleIntervalMs: number,
  ) {}

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
