import type { InstanceState, WorkerInfo } from '@handover/process-table';

/** States in which the worker process is (still) running. */
const RUNNING: ReadonlySet<InstanceState> = new Set(['starting', 'started', 'detached', 'stopping']);

export const isRunning = (worker: WorkerInfo): boolean => RUNNING.has(worker.state);

/** The id the pool's next worker will get (generations only grow). */
export function nextWorkerId(pool: string, workers: readonly WorkerInfo[]): string {
  let max = -1;
  for (const worker of workers) if (worker.pool === pool && worker.generation > max) max = worker.generation;
  return `${pool}@${max + 1}`;
}

/** Newest generation first: the worker taking new sessions sits on top. */
export function byGenerationDesc(a: WorkerInfo, b: WorkerInfo): number {
  return b.generation - a.generation;
}

/** What each state means, for the badge's tooltip and screen readers. */
export const STATE_DESCRIPTIONS: Record<InstanceState, string> = {
  starting: 'spawned; waiting for its health check',
  started: 'ready and taking new sessions',
  detached: 'serving only the sessions it has; stops when they end',
  stopping: 'asked to stop; waiting for it to exit',
  stopped: 'exited after being asked to',
  crashed: 'exited without being asked to',
  failed: 'never became ready',
};
