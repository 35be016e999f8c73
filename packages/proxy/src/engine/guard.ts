/**
 * Fault isolation: every entry from I/O into the engine (parser callbacks, socket events,
 * timers) catches what it throws and hands it here, so a bug met by one connection costs that
 * connection, never the process. Each fault is counted; the first of each kind is reported with
 * its stack through onError, repeats only counted (an attacker who found a bug cannot flood the log).
 */
import type { EngineState } from './state';

/** Named entry points, for fault injection and for the log. */
export type EntryPoint =
  | 'client.connection'
  | 'client.head'
  | 'client.body'
  | 'client.end'
  | 'client.parsed'
  | 'client.drain'
  | 'client.eof'
  | 'client.close'
  | 'worker.connect'
  | 'worker.head'
  | 'worker.body'
  | 'worker.end'
  | 'worker.parsed'
  | 'worker.drain'
  | 'worker.eof'
  | 'worker.close'
  | 'sweep';

const MAX_LOGGED_KINDS = 100;

/**
 * Test hook: when set, called at the start of every entry point; a throw from it stands for a
 * bug met there. Unset in production (one comparison per callback).
 */
export let faultProbe: ((entry: EntryPoint) => void) | undefined;

export function setFaultProbe(probe: ((entry: EntryPoint) => void) | undefined): void {
  faultProbe = probe;
}

/** Counts a caught fault and reports the first one of its kind. Never throws. */
export function recordFault(state: EngineState, entry: EntryPoint, error: unknown): void {
  state.counters.faults++;
  try {
    const message = error instanceof Error ? error.message : String(error);
    const kind = `${entry}: ${message}`;
    if (state.faultsLogged.has(kind) || state.faultsLogged.size >= MAX_LOGGED_KINDS) return;
    state.faultsLogged.add(kind);
    const reported = new Error(`proxy fault in ${entry} (the connection was closed; the proxy goes on): ${message}`, { cause: error });
    state.onError(reported);
  } catch {
    // onError itself failed: the count above is all that can be kept.
  }
}
