import { Lease } from './lease';
import { assertTransition, isAttached, isRoutable } from './state-machine';
import type { InstanceState, WorkerHealth, WorkerInfo } from './types';
import { workerId } from './worker-id';

/**
 * One row of the process table: instance `<pool>@<generation>`, its state and what is known
 * about it. Pure data; the supervisor's Worker adds the process, the logs and the timers. The
 * proxy routes to this very object (it is the proxy's Upstream), so the hot path reads
 * `routable`/`draining` here with no lookup; both follow `state` and change only through
 * `transition`/`restore`, which the ProcessTable calls. The counts are the lease's.
 */
export class WorkerRow {
  readonly id: string;
  readonly host = '127.0.0.1';

  state: InstanceState = 'starting';
  routable = false;
  draining = false;
  /** Its sessions (counted by the session table), requests and WebSockets (by the proxy). */
  readonly lease = new Lease();

  startedAt: Date | null = null;
  readyAt: Date | null = null;
  detachedAt: Date | null = null;
  stoppedAt: Date | null = null;
  exitCode: number | null = null;
  exitSignal: string | null = null;
  lastError: string | null = null;
  memoryRss: number | null = null;
  /** Set when the supervisor asked it to stop, so its exit is not taken for a crash. */
  stopRequested = false;
  /** When the maximum drain time runs out; null without one. */
  drainDeadline: Date | null = null;
  /** Liveness from the periodic health check. */
  health: WorkerHealth = 'unknown';
  /** Failed liveness probes in a row. */
  healthFailures = 0;
  /** Re-adopted from a previous supervisor (its process is not our child). */
  adopted = false;
  /** The app's own session count from the pool's session probe; null: unknown or the probe failed. */
  appSessions: number | null = null;
  /** When the probe last answered (with a count or a failure). */
  appSessionsAt: Date | null = null;
  /** Why the last probe failed; null after a good answer. */
  appSessionsError: string | null = null;

  constructor(
    readonly pool: string,
    readonly generation: number,
    readonly port: number,
    readonly revision: string,
  ) {
    this.id = workerId(pool, generation);
  }

  get sessions(): number {
    return this.lease.sessions;
  }

  get inFlight(): number {
    return this.lease.inFlight;
  }

  get webSockets(): number {
    return this.lease.webSockets;
  }

  /** The process id, when there is a process. */
  get pid(): number | null {
    return null;
  }

  get attached(): boolean {
    return isAttached(this.state);
  }

  /** A legal state change (see the state machine), with the time it happened. */
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
  }

  /** Straight into a recorded state (re-adoption: it got there under a previous supervisor). */
  restore(state: InstanceState): void {
    this.state = state;
    this.routable = isRoutable(state);
    this.draining = state === 'detached';
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
      pid: this.pid,
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
      appSessions: this.appSessions,
      appSessionsAt: iso(this.appSessionsAt),
      appSessionsError: this.appSessionsError,
    };
  }
}

function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}
