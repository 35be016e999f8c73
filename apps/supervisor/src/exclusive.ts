import { ControlError } from '@handover/control-api/server';
import type { Pool } from './pool';

/** One operation per pool at a time (a start is not instant); a second one gets CONFLICT. */
export async function exclusive<T>(pool: Pool, what: string, operation: () => Promise<T>): Promise<T> {
  if (pool.busy !== null) throw busyError(pool);
  pool.busy = what;
  try {
    return await operation();
  } finally {
    pool.busy = null;
  }
}

export function busyError(pool: Pool): ControlError {
  return new ControlError('CONFLICT', `pool ${pool.name} is busy: ${pool.busy} is in progress; try again when it has finished`);
}
