import {
  type InstanceState,
  type WorkerHealth,
  type WorkerInfo,
  assertTransition,
  isAttached,
  isRoutable,
  workerId,
} from '@handover/process-table';
import type { Upstream } from '@handover/proxy';
import { LogBuffer } from './log-buffer';
import type { WorkerProcess } from './worker-process';

/**
 * One instance `<pool>@<generation>`: its state, its process and the counters the proxy and
 * the session table keep on it (it is the proxy's Upstream, so the hot path touches this very
 * object and no lookup is needed to count).
 */
export class Worker implements Upstream {
  readonly id: string;
  readonly host = '127.0.0.1';
  readonly logs: LogBuffer;

  state: InstanceState = 'starting';
  routable = false;
  draining = false;
  sessions = 0;
  inFlight = 0;
  webSockets = 0;

  process: WorkerProcess | null = null;
  startedAt: Date | null = null;
  readyAt: Date | null = null;
  detachedAt: Date | null = null;
  stoppedAt: Date | null = null;
  exitCode: number | null = null;
  exitSignal: string | null = null;
  lastError: string | null = null;
  memoryRss: number | null = null;
  /** Set when we asked it to stop, so its exit is not taken for a crash. */
  stopRequested = false;
  drainTimer: NodeJS.Timeout | null = null;
  /** When drainTimer fires (the maximum drain time runs out); null without one. */
  drainDeadline: Date | null = null;
  /** Liveness from the periodic health check; see Supervisor.watchLiveness. */
  health: WorkerHealth = 'unknown';
  /** Failed liveness probes in a row. */
  healthFailures = 0;
  livenessTimer: NodeJS.Timeout | null = null;
  /** Re-adopted from a previous supervisor (its process is not our child). */
  adopted = false;
  /** Called after every state change (the supervisor records it in the store). */
  onChange: ((worker: Worker) => void) | null = null;

  constructor(
    readonly pool: string,
    readonly generation: number,
    readonly port: number,
    readonly revision: string,
    logLines: number,
  ) {
    this.id = workerId(pool, generation);
    this.logs = new LogBuffer(logLines);
  }

  get attached(): boolean {
    return isAttached(this.state);
  }

  /** Every state change goes through here so the proxy flags can never disagree with it. */
  transition(to: InstanceState, at: Date = new Date()): void {
    assertTransition(this.id, this.state, to);
    this.state = to;
    this.routable = isRoutable(to);
    this.draining = to === 'detached';
    if (to === 'started') {
      this.readyAt ??= at;
      this.detachedAt = null;
    } else if (to === 'detached') {
      this.detachedAt = at;
    } else if (to === 'stopped' || to === 'crashed' || to === 'failed') {
      this.stoppedAt = at;
      // An ended worker's health is not known, unless it ended because it was unhealthy.
      if (this.health !== 'unhealthy') this.health = 'unknown';
    }
    this.onChange?.(this);
  }

  /**
   * Puts a worker re-adopted from the store straight into its recorded state (no transition:
   * it reached that state under the previous supervisor).
   */
  restore(state: InstanceState): void {
    this.state = state;
    this.routable = isRoutable(state);
    this.draining = state === 'detached';
    this.onChange?.(this);
  }

  uptimeMs(now = Date.now()): number {
    return this.readyAt === null ? 0 : now - this.readyAt.getTime();
  }

  info(): WorkerInfo {
    return {
      id: this.id,
      pool: this.pool,
      generation: this.generation,
      state: this.state,
      attached: this.attached,
      pid: this.process?.pid ?? null,
      port: this.port,
      revision: this.revision,
      sessions: this.sessions,
      inFlight: this.inFlight,
      webSockets: this.webSockets,
      startedAt: iso(this.startedAt),
      readyAt: iso(this.readyAt),
      detachedAt: iso(this.detachedAt),
      stoppedAt: iso(this.stoppedAt),
      exitCode: this.exitCode,
      exitSignal: this.exitSignal,
      lastError: this.lastError,
      memoryRss: this.memoryRss,
      health: this.health,
      drainDeadline: iso(this.drainDeadline),
    };
  }
}

function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}
