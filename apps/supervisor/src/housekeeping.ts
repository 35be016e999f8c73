import { type SessionSample, type WorkerMarker, isAlive } from '@handover/process-table';
import { residentMemory } from './process-stats';
import type { Runtime } from './runtime';
import { SessionHistory } from './session-history';
import type { Worker } from './worker';

/** Sessions examined per sweep slice: about 1–3 ms of work. */
const SWEEP_SLICE = 5_000;
const SWEEP_SLICE_MS = 2;
/** How long session samples are kept (in memory and in the state store). */
export const HISTORY_MS = 24 * 60 * 60 * 1000;
/** How often samples and markers older than that are forgotten. */
const PRUNE_EVERY_MS = 10 * 60 * 1000;

/**
 * The supervisor's periodic chores, off the proxy's path: expiring idle sessions in small
 * slices, and sampling session counts (for the console's chart) and each live worker's memory.
 */
export class Housekeeping {
  readonly history: SessionHistory;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sampleTimer: NodeJS.Timeout | null = null;
  private sweepContinues = false;
  private lastPrune = 0;

  constructor(
    private readonly rt: Runtime,
    private readonly sweepIntervalMs: number,
    private readonly sampleIntervalMs: number,
  ) {
    this.history = new SessionHistory(Math.ceil(HISTORY_MS / sampleIntervalMs));
  }

  /**
   * Takes the history a previous supervisor recorded (the last 24 hours of samples, the markers
   * of its workers). Before `start`, and before re-adoption records the workers anew.
   */
  restore(): void {
    const store = this.rt.store;
    if (store === null) return;
    const since = Date.now() - HISTORY_MS;
    try {
      for (const sample of store.samples(since)) this.history.record(sample);
      for (const marker of store.markers(since)) if (!this.rt.markers.has(marker.worker)) this.rt.markers.set(marker.worker, marker);
    } catch (error) {
      // A history is nice to have: never a reason not to start.
      process.stderr.write(`handover: the session history could not be read (${error instanceof Error ? error.message : String(error)}); it starts empty\n`);
    }
  }

  /**
   * Every worker in the table or ended at or after `sinceMs`, with the moments of its life, in
   * the table's order (pool by pool, by generation). A marker left by a previous supervisor whose
   * worker is neither in the table nor recorded as ended is not shown (it was not re-adopted).
   */
  markers(sinceMs: number): WorkerMarker[] {
    const inTable = new Set(this.rt.table.rows().map((worker) => worker.id));
    const pools = [...this.rt.pools.keys()];
    const rank = (m: WorkerMarker) => (pools.includes(m.pool) ? pools.indexOf(m.pool) : pools.length);
    const generation = (m: WorkerMarker) => Number(m.worker.slice(m.worker.lastIndexOf('@') + 1));
    return [...this.rt.markers.values()]
      .filter((m) => (m.stoppedAt === null ? inTable.has(m.worker) : inTable.has(m.worker) || Date.parse(m.stoppedAt) >= sinceMs))
      .sort((a, b) => rank(a) - rank(b) || a.pool.localeCompare(b.pool) || generation(a) - generation(b));
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

  /**
   * Records the session counts as they are now (and the ends of workers stopped since the last
   * sample). The timer does it every couple of seconds; a stopping supervisor does it once before
   * and once after its workers stop, so the next supervisor's chart has this one's last counts
   * and the drop to 0, however soon after a sample the stop came.
   */
  sampleNow(): Worker[] {
    const now = Date.now();
    const sessions: Record<string, number> = {};
    const alive: Worker[] = [];
    for (const worker of this.rt.table.rows()) {
      if (!isAlive(worker.state)) continue;
      sessions[worker.id] = worker.sessions;
      alive.push(worker);
    }
    for (const sample of this.endings(now, sessions)) this.keep(sample);
    this.keep({ at: new Date(now).toISOString(), sessions });
    return alive;
  }

  private async sample(): Promise<void> {
    const alive = this.sampleNow();
    const now = Date.now();
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      this.prune(now - HISTORY_MS);
    }
    await Promise.all(
      alive.map(async (worker) => {
        const pid = worker.pid;
        if (pid != null) worker.memoryRss = await residentMemory(pid);
      }),
    );
  }

  private keep(sample: SessionSample): void {
    this.history.record(sample);
    this.rt.store?.saveSample(sample);
  }

  /**
   * Workers in the last sample that have ended since: one sample at each one's stop time with
   * its count 0 (the others as they were last sampled), so its line drops to 0 where it ended.
   */
  private endings(now: number, current: Record<string, number>): SessionSample[] {
    const last = this.history.last();
    if (last === undefined) return [];
    const lastAt = Date.parse(last.at);
    const ended = Object.keys(last.sessions)
      .filter((id) => !(id in current))
      .map((id) => {
        const stopped = this.rt.markers.get(id)?.stoppedAt;
        const at = stopped == null ? now - 1 : Date.parse(stopped);
        return { id, at: Math.min(now - 1, Math.max(lastAt + 1, at)) };
      })
      .sort((a, b) => a.at - b.at);
    const samples: SessionSample[] = [];
    const counts = { ...last.sessions };
    for (const { id, at } of ended) {
      counts[id] = 0;
      const previous = samples.at(-1);
      if (previous !== undefined && Date.parse(previous.at) === at) previous.sessions[id] = 0;
      else samples.push({ at: new Date(at).toISOString(), sessions: { ...counts } });
      // Once at 0 it is left out of later samples.
      delete counts[id];
    }
    return samples;
  }

  /** Forgets samples and ended workers' markers older than `beforeMs`, here and in the store. */
  private prune(beforeMs: number): void {
    this.rt.store?.pruneHistory(beforeMs);
    for (const [id, marker] of this.rt.markers) {
      if (marker.stoppedAt !== null && Date.parse(marker.stoppedAt) < beforeMs && this.rt.table.find(id) === undefined) this.rt.markers.delete(id);
    }
  }
}
