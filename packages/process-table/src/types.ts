/**
 * The domain vocabulary shared by the supervisor, the control API, the CLI and the console.
 * Plain data only: everything here crosses the wire as JSON.
 */

/** Lifecycle of one worker instance (`<pool>@<generation>`). */
export type InstanceState =
  | 'starting' // spawned, health check not answered yet
  | 'started' // ready and attached: may take new sessions
  | 'detached' // ready, serves only the sessions it already has
  | 'stopping' // SIGTERM sent, waiting for exit (SIGKILL after the grace)
  | 'stopped' // exited after we asked it to
  | 'crashed' // exited while we did not ask it to
  | 'failed'; // never became ready (exited or timed out during start)

/**
 * Liveness of a running worker, from the periodic health check (`healthCheck.everySeconds`):
 * `unknown` while it starts or after it ended, `unhealthy` after `failuresBeforeUnhealthy` failed
 * probes in a row.
 */
export type WorkerHealth = 'ok' | 'unhealthy' | 'unknown';

/** Health of a pool as a whole (PM2-style crash loop handling). */
export type PoolStatus =
  | 'ok'
  | 'backoff' // an attached worker crashed; a replacement is scheduled
  | 'errored'; // crash loop limit reached: no more automatic restarts until a sync

export interface WorkerInfo {
  id: string;
  pool: string;
  generation: number;
  state: InstanceState;
  /** Whether the worker takes new sessions (starting/started, not detached). */
  attached: boolean;
  pid: number | null;
  port: number;
  revision: string;
  sessions: number;
  inFlight: number;
  webSockets: number;
  /** ISO timestamps; null when that moment has not come. */
  startedAt: string | null;
  readyAt: string | null;
  detachedAt: string | null;
  stoppedAt: string | null;
  exitCode: number | null;
  exitSignal: string | null;
  /** Why the worker failed or crashed, with its last output when that helps. */
  lastError: string | null;
  /** Resident memory of the worker process in bytes, sampled every few seconds; null when unknown. */
  memoryRss: number | null;
  /** Liveness from the periodic health check. */
  health: WorkerHealth;
  /**
   * While detached: when `drain.maxSeconds` runs out and the worker is stopped whatever is left
   * (ISO); null when attached, ended, or with no maximum. Always set by the supervisor.
   */
  drainDeadline?: string | null;
  /**
   * The app's own session count from the pool's session probe (`pools[].sessionProbe`), as of
   * `appSessionsAt` (ISO); null without a probe, before its first answer, or when the last probe
   * failed (`appSessionsError` says why). Handover's own count is `sessions`.
   */
  appSessions: number | null;
  appSessionsAt: string | null;
  appSessionsError: string | null;
}

/** Session counts of every live worker at one moment (for the console's chart). */
export interface SessionSample {
  at: string;
  sessions: Record<string, number>;
}

/** Everything the dashboard table shows, pushed whenever any of it changes. */
export interface WorkersSnapshot {
  at: string;
  workers: WorkerInfo[];
  pools: PoolInfo[];
}

export interface PoolInfo {
  name: string;
  /** The revision a sync would start now (from the configuration last read). */
  revision: string;
  command: string;
  sessionCookie: string;
  /** Attached instances wanted. */
  instances: number;
  attached: number;
  status: PoolStatus;
  /** Crashes counted toward the crash loop limit. */
  restarts: number;
  nextRestartAt: string | null;
  lastError: string | null;
  /** Sessions lost to crashes and forced drains since the supervisor started. */
  sessionsLost: number;
  /** The session probe's path (`pools[].sessionProbe.path`); null: the pool has none. */
  sessionProbe: string | null;
}

export type EventType =
  | 'supervisor.started'
  | 'supervisor.stopping'
  | 'supervisor.stopped'
  | 'worker.starting'
  | 'worker.started'
  | 'worker.failed'
  | 'worker.detached'
  | 'worker.reattached'
  | 'worker.drained'
  | 'worker.stopping'
  | 'worker.stopped'
  | 'worker.crashed'
  | 'worker.killed'
  | 'worker.unhealthy' // stopped answering its health check (an attached one is replaced)
  | 'worker.healthy' // answers its health check again after being unhealthy
  | 'worker.adopted' // a new supervisor took over a worker a previous one left running
  | 'worker.lost' // a recorded worker could not be re-adopted (gone, pid reused, not answering)
  | 'sessions.lost'
  | 'pool.backoff'
  | 'pool.errored'
  | 'pool.synced'
  | 'config.reloaded'
  | 'config.rejected'
  | 'action';

/**
 * Events of the restart machinery, kept out of EventType so that maps over it (the console's)
 * keep compiling until they list them; they show under their own name meanwhile.
 */
export type RecoveryEventType =
  | 'supervisor.crashLoop' // the keeper restarted a supervisor that keeps dying; with the count and the last cause
  | 'sessions.reconciled' // restored session bindings of a re-adopted detached worker confirmed or dropped
  | 'sessions.limit' // a pool's session table reached pools[].maxSessions (once until it is back under 90 %)
  | 'proxy.fault'; // the proxy caught an unexpected error on one connection (that connection ended; once per kind)

export interface HandoverEvent {
  /** Grows by one per event; a subscriber resumes after the last id it saw. */
  id: number;
  at: string;
  type: EventType | RecoveryEventType;
  /** Who caused it: `supervisor` for its own decisions, the operator otherwise. */
  actor: string;
  pool: string | null;
  worker: string | null;
  message: string;
  data: Record<string, unknown> | null;
}

export interface LogLine {
  at: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface SyncResult {
  pools: Array<{ pool: string; started: WorkerInfo[]; error: string | null }>;
}

export interface DetachAndSyncResult {
  detached: WorkerInfo;
  started: WorkerInfo;
}

/** The answer to a stop request: the supervisor stops right after sending it. */
export interface SupervisorStopResult {
  /** True: the workers keep running for the next `handover start` to re-adopt. */
  keepWorkers: boolean;
  /** The live workers at the time of the request (stopped, or left running). */
  workers: string[];
  /** The supervisor's process id. */
  pid: number;
}
