import type { PoolConfig } from '@handover/config';
import { WorkerRow } from '@handover/process-table';
import type { Upstream } from '@handover/proxy';
import { LogBuffer } from './log-buffer';
import type { WorkerProcess } from './worker-process';

/**
 * A row of the process table with what only a running supervisor has: the process, its recent
 * output and the timers watching it. It is the proxy's Upstream too, so the hot path counts on
 * this very object with no lookup.
 */
export class Worker extends WorkerRow implements Upstream {
  readonly logs: LogBuffer;
  process: WorkerProcess | null = null;
  /** Fires when the maximum drain time runs out (see drain.ts). */
  drainTimer: NodeJS.Timeout | null = null;
  /** The next liveness probe (see liveness.ts). */
  livenessTimer: NodeJS.Timeout | null = null;
  /** The next session probe (see session-probe.ts). */
  sessionProbeTimer: NodeJS.Timeout | null = null;
  /** A session probe is under way (at most one per worker). */
  sessionProbeBusy = false;
  /** The pool's configuration it was started with; null for a re-adopted worker (only its revision is known). */
  startConfig: PoolConfig | null = null;

  constructor(pool: string, generation: number, port: number, revision: string, logLines: number) {
    super(pool, generation, port, revision);
    this.logs = new LogBuffer(logLines);
  }

  override get pid(): number | null {
    return this.process?.pid ?? null;
  }

  /** Arms the maximum drain time: `onTimeout` runs at `deadline` (shown in workers.list). */
  armDrainTimer(deadline: number, onTimeout: () => void): void {
    this.clearDrainTimer();
    this.drainDeadline = new Date(deadline);
    this.drainTimer = setTimeout(() => {
      this.drainTimer = null;
      this.drainDeadline = null;
      onTimeout();
    }, Math.max(0, deadline - Date.now()));
    this.drainTimer.unref();
  }

  clearDrainTimer(): void {
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    this.drainDeadline = null;
  }

  /** The next liveness probe runs `probe` after `delayMs`. */
  scheduleProbe(delayMs: number, probe: () => void): void {
    this.clearLiveness();
    this.livenessTimer = setTimeout(() => {
      this.livenessTimer = null;
      probe();
    }, delayMs);
    this.livenessTimer.unref();
  }

  clearLiveness(): void {
    if (this.livenessTimer !== null) clearTimeout(this.livenessTimer);
    this.livenessTimer = null;
  }

  /** The next session probe runs `probe` after `delayMs`. */
  scheduleSessionProbe(delayMs: number, probe: () => void): void {
    this.clearSessionProbe();
    this.sessionProbeTimer = setTimeout(() => {
      this.sessionProbeTimer = null;
      probe();
    }, delayMs);
    this.sessionProbeTimer.unref();
  }

  clearSessionProbe(): void {
    if (this.sessionProbeTimer !== null) clearTimeout(this.sessionProbeTimer);
    this.sessionProbeTimer = null;
  }

  /** Stops every timer watching this worker (the supervisor is stopping or leaving). */
  clearTimers(): void {
    this.clearDrainTimer();
    this.clearLiveness();
    this.clearSessionProbe();
  }
}
