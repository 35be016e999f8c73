/**
 * The control contract: what the control API needs from a supervisor, and the operator errors
 * it maps to HTTP/tRPC codes. The real supervisor (apps/supervisor) and the in-memory fake
 * (`@handover/control-api/testing`) implement it.
 */
import type {
  DetachAndSyncResult,
  InstanceState,
  HandoverEvent,
  LogLine,
  PoolInfo,
  SessionSample,
  SupervisorStopResult,
  SyncResult,
  WorkerInfo,
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
  /** Newest `limit` events (oldest first), or the events after `afterId` (oldest first). */
  listEvents(options: { afterId?: number; limit: number }): HandoverEvent[];
  /** Session counts per worker, sampled every few seconds over the last minutes, oldest first. */
  sessionHistory(): SessionSample[];
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
