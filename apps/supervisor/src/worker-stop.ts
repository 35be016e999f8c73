import { isAlive } from '@handover/process-table';
import { workerEvents } from './events';
import type { Pool } from './pool';
import type { Runtime } from './runtime';
import type { Worker } from './worker';

/**
 * SIGTERM to the worker's process group, SIGKILL after the pool's grace; resolves once it has
 * exited (its exit is then reported by crash-replacement.ts `handleExit`, as a stop).
 */
export async function stopWorker(rt: Runtime, pool: Pool, worker: Worker, reason: string): Promise<void> {
  const proc = worker.process;
  if (!isAlive(worker.state) || proc === null) return;
  worker.clearDrainTimer();
  worker.stopRequested = true;
  const { graceSeconds } = pool.config.stop;
  if (worker.state === 'starting') {
    // startWorker sees the exit, marks it failed and reports it.
    await proc.terminate(graceSeconds * 1000);
    return;
  }
  if (worker.state !== 'stopping') {
    rt.table.transition(worker, 'stopping');
    rt.record(workerEvents.stopping(worker, reason, graceSeconds));
  }
  const result = await proc.terminate(graceSeconds * 1000);
  if (result.killed) rt.record(workerEvents.killed(worker, graceSeconds));
}
