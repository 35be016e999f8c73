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
  /**
   * The revision a sync would start now: the configuration file as it is now (re-read when it
   * changes and before every operation; while the file does not parse, the last good one: see
   * `configError`).
   */
  revision: string;
  /** The command a sync would start now (same source as `revision`). */
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
  /*
   * The four fields below came with #10. Optional in the type only, so that literals written
   * before them still compile: the supervisor and the fake always set them.
   */
  /** The revisions the attached workers (starting or started) run, distinct, sorted. */
  runningRevisions?: string[];
  /**
   * The configuration file differs from what the attached workers run (an edit not synced yet,
   * a rollback by reattach, fewer attached workers than `instances`): what a sync would change.
   * Null when they agree.
   */
  drift?: PoolDrift | null;
  /**
   * The configuration file as it is now does not parse or validate (say, mid-edit): the last
   * good one stays in use and a sync would refuse. The same text on every pool. Null when it is fine.
   */
  configError?: string | null;
  /**
   * The last start of a new worker in this pool failed (detach-and-sync, sync, replacement);
   * cleared by the next worker that becomes ready. Null when the last start succeeded.
   */
  deployFailure?: DeployFailure | null;
}

/**
 * How the configuration file differs from what runs. A console badge reads, in this order:
 * `status` errored / backoff, then `deployFailure` ("deploy failed"), `configError`
 * ("config rejected"), `drift` ("out of sync"), else ok.
 */
export interface PoolDrift {
  /** The revision in the configuration file now. */
  configuredRevision: string;
  /** The revisions the attached workers run (distinct, sorted); empty with none attached. */
  runningRevisions: string[];
  /**
   * One line per difference, e.g. `revision v2 → v3 (web@3 runs v2)`, `command changed`,
   * `env FOO added`, `instances 1 → 2`. Environment values are never shown (they may be secrets).
   */
  changes: string[];
}

/** A worker that did not become ready. */
export interface DeployFailure {
  worker: string;
  revision: string;
  /** Why, with the worker's last output lines when it printed any. */
  reason: string;
  /** ISO time of the failure. */
  at: string;
}

/** `pools.plan`: what `pools.sync` would do now, without doing it. */
export interface SyncPlan {
  /** The configuration file does not parse or validate: a sync would refuse and change nothing. */
  configError: string | null;
  /** Notes on the file as a whole (a new pool, a new session cookie: they take a restart). */
  notes: string[];
  pools: PoolPlan[];
}

export interface PoolPlan {
  pool: string;
  /** The revision any worker it starts would run. */
  revision: string;
  /** How many workers it would start (replacements included). */
  start: number;
  /** Attached workers it would replace: each is detached (and drains) once its successor is ready. */
  detach: string[];
  /** What differs between the file and what runs (as `PoolDrift.changes`). */
  changes: string[];
  /** An operation in progress: a sync now would skip this pool. */
  busy: string | null;
  /** A sync would also lift a crash loop stop (`status` errored) or a pending back-off. */
  liftsCrashLoop: boolean;
  /** Nothing to start, nothing to detach. */
  upToDate: boolean;
}

/** One session left on a worker (see `DrainInfo`). */
export interface DrainSession {
  /** The first 6 characters and `…`: never the whole id, which is a credential. */
  id: string;
  /** ISO: the last request of this session (or the end of its last WebSocket). */
  lastSeenAt: string;
  /** ISO: when the idle timeout ends it if nothing more happens (a session in use does not expire). */
  expiresAt: string;
  /** Requests and WebSockets of this session under way now. */
  open: number;
}

/** `workers.drain`: what a worker still holds and, when detached, when it should be gone. */
export interface DrainInfo {
  worker: string;
  state: InstanceState;
  detachedAt: string | null;
  sessions: number;
  inFlight: number;
  webSockets: number;
  /** The pool's `drain.maxSeconds`; null: no maximum. */
  maxSeconds: number | null;
  /** ISO: when the maximum drain time runs out (null: not detached, or no maximum). */
  deadline: string | null;
  /**
   * ISO: when the drain should be over if users do nothing more: the latest expiry among the
   * remaining sessions, capped by the deadline. Null when it cannot be told (an open WebSocket
   * does not expire by itself, and there is no deadline) or the worker is not detached.
   */
  eta: string | null;
  /**
   * What `eta` rests on: `empty` (no session left: it stops now), `sessions` (idle expiry),
   * `deadline` (capped by it, or an open WebSocket that only it ends), `unknown` (see `eta`).
   */
  etaBasis: 'empty' | 'sessions' | 'deadline' | 'unknown';
  /** The remaining sessions, those that expire last first; at most the `limit` asked for. */
  remaining: DrainSession[];
  /** More sessions remain than `remaining` lists. */
  truncated: boolean;
}

/** The moments of a worker's life the console's chart marks, kept with the session history. */
export interface WorkerMarker {
  worker: string;
  pool: string;
  revision: string;
  state: InstanceState;
  startedAt: string | null;
  readyAt: string | null;
  detachedAt: string | null;
  stoppedAt: string | null;
}

/** Filters of `events.list`, `events.live` and the NDJSON export; every one given must match. */
export interface EventFilter {
  worker?: string;
  pool?: string;
  /** An event type (`worker.stopped`), or a prefix ending in `.` or `.*` (`worker.`, `worker.*`). */
  type?: string;
  actor?: string;
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

/** A node's part in a fleet behind HAProxy (node drain: docs/many-machines.md). */
export type NodeEventType =
  | 'node.draining' // the operator drained the node: the front sends it no new clients
  | 'node.drained' // a draining node's last session, request and WebSocket are gone: it can be taken down
  | 'node.ready'; // the node takes new clients again

/** Whether this node takes new clients, and what it still holds (`node.status`, `/node-health`). */
export interface NodeStatus {
  /** Takes new clients: not draining, and at least one pool not errored. */
  accepting: boolean;
  draining: boolean;
  /** Since when, and who drained it (ISO; null when not draining). */
  drainingSince: string | null;
  drainedBy: string | null;
  /** Every pool errored (crash loop): the front should send no new clients either. */
  allPoolsErrored: boolean;
  /** What the node still holds, all pools together. */
  sessions: number;
  inFlight: number;
  webSockets: number;
  /** Draining and nothing left: safe to take down. */
  drained: boolean;
}

export interface HandoverEvent {
  /** Grows by one per event; a subscriber resumes after the last id it saw. */
  id: number;
  at: string;
  type: EventType | RecoveryEventType | NodeEventType;
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
  /**
   * `detached` (always set; optional in the type for literals written before #10): attached workers replaced because they ran another revision or configuration
   * than the file, each detached once its successor was ready (they drain).
   */
  pools: Array<{ pool: string; started: WorkerInfo[]; detached?: WorkerInfo[]; error: string | null }>;
}

export interface DetachAndSyncResult {
  /** The worker named in the request, now detached. */
  detached: WorkerInfo;
  /** Its (first) successor. */
  started: WorkerInfo;
  /** A pool of several instances: every worker detached (the named one first or among them). */
  allDetached: WorkerInfo[];
  /** …and every successor, started together (as many as the pool's instances). */
  allStarted: WorkerInfo[];
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
