/**
 * The control contract: what the control API needs from a supervisor, and the operator errors
 * it maps to HTTP/tRPC codes. The real supervisor (apps/supervisor) and the in-memory fake
 * (`@handover/control-api/testing`) implement it.
 */
import type {
  DetachAndSyncResult,
  DrainInfo,
  EventFilter,
  InstanceState,
  HandoverEvent,
  LogLine,
  NodeStatus,
  PoolInfo,
  SessionSample,
  SupervisorStopResult,
  SyncPlan,
  SyncResult,
  WorkerInfo,
  WorkerMarker,
} from '@handover/process-table';

export type ControlErrorCode = 'NOT_FOUND' | 'PRECONDITION_FAILED' | 'BAD_REQUEST' | 'CONFLICT';

/** An operator error with a message that says what to do; the control API maps the code. */
export class ControlError extends Error {
  constructor(
    readonly code: ControlErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

/** What the control API needs from a supervisor. The real one lives in apps/supervisor. */
export interface SupervisorControl {
  listWorkers(): WorkerInfo[];
  listPools(): PoolInfo[];
  detach(worker: string, actor: string): Promise<WorkerInfo>;
  detachAndSync(worker: string, actor: string): Promise<DetachAndSyncResult>;
  reattach(worker: string, actor: string): Promise<WorkerInfo>;
  sync(pool: string | undefined, actor: string): Promise<SyncResult>;
  logs(worker: string, lines: number): LogLine[];
  /**
   * Newest `limit` events (oldest first), or the events after `afterId` (oldest first); with a
   * `filter`, only the events it matches (`matchesEventFilter`).
   */
  listEvents(options: { afterId?: number; limit: number; filter?: EventFilter }): HandoverEvent[];
  /**
   * Session counts per worker, sampled every few seconds, oldest first: the last `minutes`
   * (default 10, at most 1440; kept across restarts). A worker that ended gets a last sample of 0
   * at its stop time.
   */
  sessionHistory(options?: { minutes?: number }): SessionSample[];
  /** Start, ready, detach and stop times of every worker seen in the last `minutes` (default 10). */
  workerMarkers(options?: { minutes?: number }): WorkerMarker[];
  /** What `sync(pool)` would do now, without doing it (the file is re-read). */
  planSync(pool: string | undefined): Promise<SyncPlan>;
  /** What a worker still holds: its sessions (at most `limit`, ids truncated), deadline and ETA. */
  drainInfo(worker: string, limit: number): DrainInfo;
  /**
   * Stops a detached worker now, whatever it still holds: its sessions are counted lost
   * (`sessions.lost`, reason `stopped-now`, with the actor). PRECONDITION_FAILED unless detached.
   */
  stopNow(worker: string, actor: string): Promise<WorkerInfo>;
  /** Whether this node takes new clients from the front (HAProxy), and what it still holds. */
  nodeStatus(): NodeStatus;
  /** Drains the node: `/node-health` answers 404 so the front sends no new clients; sticky ones stay. */
  drainNode(actor: string): NodeStatus;
  /** The node takes new clients again. */
  readyNode(actor: string): NodeStatus;
  /** Calls the listener for every event recorded from now on; returns the unsubscribe. */
  onEvent(listener: (event: HandoverEvent) => void): () => void;
  /**
   * Stops the supervisor once the answer is sent: gracefully with every worker, or
   * (`keepWorkers`) leaving the workers running and recorded for the next start to re-adopt.
   */
  stopSupervisor(options: { keepWorkers: boolean }, actor: string): Promise<SupervisorStopResult>;
}

/*
 * The operator errors every SupervisorControl gives in the same words (the real supervisor and
 * the in-memory fake alike), so a CLI or console test against either sees what users see.
 */

export function noSuchWorker(id: string, running: readonly string[]): ControlError {
  return new ControlError('NOT_FOUND', `no worker ${id}; running workers: ${running.join(', ') || 'none'}`);
}

export function noSuchPool(name: string, pools: readonly string[]): ControlError {
  return new ControlError('NOT_FOUND', `no pool ${name}; pools: ${pools.join(', ')}`);
}

/** `stopNow` takes only a detached worker: an attached one is detached (or replaced) first. */
export function requireDetachedToStop(worker: { id: string; state: InstanceState }): void {
  if (worker.state === 'detached') return;
  const hint =
    worker.state === 'started' || worker.state === 'starting'
      ? ` It takes new sessions: detach it first (\`handover detach ${worker.id} --sync\` starts a successor).`
      : worker.state === 'stopping'
        ? ' It is stopping already.'
        : ' It is not running.';
  throw new ControlError('PRECONDITION_FAILED', `cannot stop ${worker.id} now: it is ${worker.state}.${hint}`);
}

/** Whether an event passes a filter (every field given must match; `type` may be a prefix ending in `.` or `.*`). */
export function matchesEventFilter(event: HandoverEvent, filter: EventFilter | undefined): boolean {
  if (filter === undefined) return true;
  if (filter.worker !== undefined && event.worker !== filter.worker) return false;
  if (filter.pool !== undefined && event.pool !== filter.pool) return false;
  if (filter.actor !== undefined && event.actor !== filter.actor) return false;
  if (filter.type !== undefined) {
    const prefix = eventTypePrefix(filter.type);
    if (prefix === null ? event.type !== filter.type : !event.type.startsWith(prefix)) return false;
  }
  return true;
}

/** `worker.*` and `worker.` → `worker.`; an exact type → null. */
export function eventTypePrefix(type: string): string | null {
  if (type.endsWith('.*')) return type.slice(0, -1);
  if (type.endsWith('.')) return type;
  return null;
}

/** A session id as the API shows it: the first 6 characters and `…` (the whole id is a credential). */
export function truncateSessionId(id: string): string {
  return `${id.slice(0, 6)}…`;
}

/** An operation that needs the worker `started` (detach) or `detached` (reattach), with what to do instead. */
export function requireState(worker: { id: string; state: InstanceState }, state: 'started' | 'detached', what: string): void {
  if (worker.state === state) return;
  const hint =
    state === 'started'
      ? worker.state === 'detached'
        ? ' It is already detached (draining); reattach it to roll back.'
        : worker.state === 'starting'
          ? ' Wait until it is ready.'
          : ''
      : worker.state === 'started'
        ? ' It is attached already.'
        : ' Only a detached worker that is still running can be reattached.';
  throw new ControlError('PRECONDITION_FAILED', `cannot ${what} ${worker.id}: it is ${worker.state}.${hint}`);
}
