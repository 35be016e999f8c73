import type { InstanceState } from './types';

/**
 * Which state changes are legal. Everything the supervisor does to an instance goes through
 * `assertTransition`, so an impossible sequence (say, reattaching a stopped worker) is a bug
 * caught at the point it happens rather than a confusing dashboard later.
 */
const TRANSITIONS: Record<InstanceState, readonly InstanceState[]> = {
  starting: ['started', 'failed', 'stopping'],
  started: ['detached', 'stopping', 'crashed'],
  detached: ['started', 'stopping', 'crashed'],
  stopping: ['stopped', 'crashed'],
  stopped: [],
  crashed: [],
  failed: [],
};

export function canTransition(from: InstanceState, to: InstanceState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(worker: string, from: InstanceState, to: InstanceState): void {
  if (!canTransition(from, to)) {
    throw new Error(`illegal state change for ${worker}: ${from} → ${to}`);
  }
}

/** The process is (or should be) running. */
export function isAlive(state: InstanceState): boolean {
  return state === 'starting' || state === 'started' || state === 'detached' || state === 'stopping';
}

/** May serve the requests of sessions bound to it. */
export function isRoutable(state: InstanceState): boolean {
  return state === 'started' || state === 'detached';
}

/** Counts toward the pool's wanted instances (takes, or will take, new sessions). */
export function isAttached(state: InstanceState): boolean {
  return state === 'starting' || state === 'started';
}

/** Ended for good: kept only for the record. */
export function isTerminal(state: InstanceState): boolean {
  return state === 'stopped' || state === 'crashed' || state === 'failed';
}
