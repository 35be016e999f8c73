/**
 * A detached worker keeps its sessions, requests and WebSockets (its lease, process-table
 * `Lease`) and takes no new sessions; it is stopped as soon as the lease is empty, or cut
 * when the pool's maximum drain time runs out.
 */
import { drainStoppedNow, drainTimedOut, workerEvents } from './events';
import type { Pool } from './pool';
import type { Runtime } from './runtime';
import type { Worker } from './worker';
import { stopWorker } from './worker-stop';

/** Detaches a started worker: new sessions go to the pool's target from now on. */
export function detachWorker(rt: Runtime, pool: Pool, worker: Worker, actor: string): void {
  rt.table.transition(worker, 'detached');
  const maxSeconds = pool.config.drain.maxSeconds;
  rt.record(workerEvents.detached(actor, worker, pool.rows.target, maxSeconds));
  if (maxSeconds !== null) armDrainDeadline(rt, pool, worker, maxSeconds);
  scheduleDrainCheck(rt, worker);
}

/** The maximum drain time, counted from the detach. */
export function armDrainDeadline(rt: Runtime, pool: Pool, worker: Worker, maxSeconds: number): void {
  const deadline = (worker.detachedAt?.getTime() ?? Date.now()) + maxSeconds * 1000;
  worker.armDrainTimer(deadline, () => endDrain(rt, pool, worker));
}

/** The maximum drain time ran out: cut what is left and stop the worker. */
function endDrain(rt: Runtime, pool: Pool, worker: Worker): void {
  if (worker.state !== 'detached') return;
  const left = { sessions: worker.sessions, inFlight: worker.inFlight, webSockets: worker.webSockets };
  const lost = pool.sessions.unbindOwner(worker);
  pool.sessionsLost += lost;
  rt.record(drainTimedOut(pool.name, worker.id, pool.config.drain.maxSeconds, left, lost));
  void stopWorker(rt, pool, worker, 'maximum drain time reached');
}

/**
 * The operator's "stop now" (`workers.stopNow`): what is left is cut, counted lost with the
 * operator as actor, and the worker stopped; resolves once it has exited.
 */
export async function stopDrainNow(rt: Runtime, pool: Pool, worker: Worker, actor: string): Promise<void> {
  if (worker.state !== 'detached') return;
  const left = { sessions: worker.sessions, inFlight: worker.inFlight, webSockets: worker.webSockets };
  const lost = pool.sessions.unbindOwner(worker);
  pool.sessionsLost += lost;
  if (lost > 0 || left.inFlight > 0 || left.webSockets > 0) rt.record(drainStoppedNow(pool.name, worker.id, actor, left, lost));
  // Synchronously to 'stopping': the drain check the unbind queued finds nothing to do.
  const stopped = stopWorker(rt, pool, worker, `stopped now by ${actor}`);
  await stopped;
  // The exit is reported (stopped) once the process is gone; wait for that record too.
  await worker.process?.exited;
}

/**
 * Something a detached worker held went away: if nothing is left, it has drained. Deferred: the
 * proxy and the session table call in the middle of their own bookkeeping.
 */
export function scheduleDrainCheck(rt: Runtime, worker: Worker): void {
  if (worker.state === 'detached' && worker.lease.empty) queueMicrotask(() => checkDrain(rt, worker));
}

/**
 * The pool's session probe says the app holds no session on this detached worker, and nothing is
 * in flight: the sessions Handover still counts are phantoms (a logout that left the cookie), so
 * they are unbound (not lost: the app ended them) and the worker stops as after any drain.
 */
export function drainedByApp(rt: Runtime, pool: Pool, worker: Worker, path: string): void {
  if (worker.state !== 'detached' || worker.inFlight > 0 || worker.webSockets > 0 || rt.stopping) return;
  const drainMs = worker.detachedAt ? Date.now() - worker.detachedAt.getTime() : 0;
  const counted = pool.sessions.unbindOwner(worker);
  rt.record(workerEvents.drainedByApp(worker, counted, path, drainMs));
  // Synchronously to 'stopping': the drain check the unbind queued finds nothing to do.
  void stopWorker(rt, pool, worker, 'drained: the app reports 0 sessions');
}

function checkDrain(rt: Runtime, worker: Worker): void {
  if (worker.state !== 'detached' || !worker.lease.empty || rt.stopping) return;
  const pool = rt.pools.get(worker.pool);
  if (pool === undefined) return;
  const drainMs = worker.detachedAt ? Date.now() - worker.detachedAt.getTime() : 0;
  rt.record(workerEvents.drained(worker, drainMs));
  void stopWorker(rt, pool, worker, 'drained');
}
