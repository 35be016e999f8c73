import { setTimeout as delay } from 'node:timers/promises';
import type { WorkersSnapshot } from '@handover/process-table';
import type { SupervisorControl } from './contract';

/**
 * The dashboard's live table: a snapshot at once, then a new one whenever anything in it
 * changed. Counts change on every request, far too often to push each change, so the state is
 * sampled every `intervalMs` on the server; the browser only receives what differs.
 */
export async function* watchWorkers(
  supervisor: Pick<SupervisorControl, 'listWorkers' | 'listPools'>,
  signal: AbortSignal | undefined,
  intervalMs = 250,
): AsyncGenerator<WorkersSnapshot, void, unknown> {
  let previous = '';
  while (signal?.aborted !== true) {
    const workers = supervisor.listWorkers();
    const pools = supervisor.listPools();
    const fingerprint = JSON.stringify([workers, pools]);
    if (fingerprint !== previous) {
      previous = fingerprint;
      yield { at: new Date().toISOString(), workers, pools };
    }
    try {
      await delay(intervalMs, undefined, { signal });
    } catch {
      return; // aborted: the client went away
    }
  }
}
