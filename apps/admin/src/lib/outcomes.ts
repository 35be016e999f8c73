import type { InstanceState, WorkerInfo } from '@handover/process-table';

/**
 * What an operator's action said, tied to the state it described (#10, item 1). A row's
 * message is shown while its worker is in one of `states` and dropped for good once it is not:
 * "web@0 is draining" goes when web@0 stops, "web@2 failed, so web@1 stays attached" when
 * web@1 is detached later. The event log keeps every outcome for later.
 */
export interface Outcome {
  kind: 'success' | 'error';
  /** One short line, in the API's words. */
  text: string;
  /** The states of the row's worker in which `text` is still true. */
  states: readonly InstanceState[];
  /** When it arrived (page clock, ms). */
  at: number;
  /** Whether the page has seen the worker in one of `states` since (see outcomeVisibility). */
  seen: boolean;
}

/**
 * How long an outcome may wait for the snapshot that shows the state it describes: the answer
 * to a mutation can arrive a moment before the live snapshot with the new state.
 */
export const OUTCOME_GRACE_MS = 3000;

/**
 * `show`: still true; `wait`: not yet visible in the live state (shown nothing meanwhile);
 * `drop`: the state it described is gone.
 */
export function outcomeVisibility(outcome: Outcome, worker: WorkerInfo | undefined, now: number): 'show' | 'wait' | 'drop' {
  if (worker !== undefined && outcome.states.includes(worker.state)) return 'show';
  if (!outcome.seen && worker !== undefined && now - outcome.at < OUTCOME_GRACE_MS) return 'wait';
  return 'drop';
}

/**
 * An error's first line for a row, the rest apart (#10, item 2): a failed start carries the
 * worker's last output (a stack trace of 20+ lines), which belongs in "Why … failed", not in the
 * Actions column.
 */
export function splitMessage(message: string): { summary: string; detail: string | null } {
  const marker = message.search(/ Its last output:|\n/);
  if (marker === -1) return { summary: message.trim(), detail: null };
  const summary = message.slice(0, marker).trim();
  const detail = message.slice(marker).replace(/^ Its last output:/, '').trim();
  return { summary, detail: detail === '' ? null : detail };
}

/** The failed worker named in a detach-and-sync refusal ("web@3 (revision v3) failed to start, …"). */
export function failedWorkerOf(message: string): string | null {
  const match = /^(\S+@\d+) \(revision [^)]*\) failed to start/.exec(message);
  return match?.[1] ?? null;
}
