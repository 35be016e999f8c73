/**
 * Liveness: a running (started or detached) worker's health path is probed every
 * `healthCheck.everySeconds`, one GET at a time, on a timer of its own — never on the proxy's
 * path. After `failuresBeforeUnhealthy` failures in a row the worker is `unhealthy`; an attached
 * one is then stopped and replaced like a crash, a detached one is only shown (its drain, or the
 * maximum drain time, ends it). It is `ok` again as soon as it answers.
 */
import { isRoutable } from '@handover/process-table';
import { scheduleReplacement } from './crash-replacement';
import { seconds, sessionsLost, workerEvents } from './events';
import { probe } from './health-check';
import type { Pool } from './pool';
import type { Runtime } from './runtime';
import { watchSessionProbe } from './session-probe';
import type { Worker } from './worker';
import { stopWorker } from './worker-stop';

/** Starts watching a worker that has become ready or was re-adopted: liveness, and the session probe if its pool has one. */
export function watchLiveness(rt: Runtime, pool: Pool, worker: Worker): void {
  watchSessionProbe(rt, pool, worker);
  worker.health = 'ok';
  worker.healthFailures = 0;
  const next = (): void => worker.scheduleProbe(pool.config.healthCheck.everySeconds * 1000, () => void check());
  const check = async (): Promise<void> => {
    if (rt.stopping || !isRoutable(worker.state)) return;
    const { path, timeoutSeconds, everySeconds, failuresBeforeUnhealthy } = pool.config.healthCheck;
    // As long as the interval (at least 0.5 s, at most 5 s or the start timeout): a probe never overlaps the next.
    const timeoutMs = Math.min(timeoutSeconds * 1000, 5_000, Math.max(500, everySeconds * 1000));
    const ok = await probe(worker.port, path, timeoutMs);
    if (rt.stopping || !isRoutable(worker.state)) return;
    if (ok) {
      worker.healthFailures = 0;
      if (worker.health === 'unhealthy') {
        worker.health = 'ok';
        rt.record(workerEvents.healthy(worker, path));
      }
      worker.health = 'ok';
      return next();
    }
    worker.healthFailures++;
    if (worker.healthFailures >= failuresBeforeUnhealthy) {
      if (worker.health !== 'unhealthy') {
        worker.health = 'unhealthy';
        rt.record(workerEvents.unhealthy(worker, { path, everySeconds, timeoutMs }));
      }
      if (worker.state === 'started') return replaceUnhealthy(rt, pool, worker);
    }
    next();
  };
  next();
}

/** An attached worker that hangs: like a crash, its sessions are lost and a successor starts with back-off. */
function replaceUnhealthy(rt: Runtime, pool: Pool, worker: Worker): void {
  const uptime = worker.uptimeMs();
  const lost = pool.sessions.unbindOwner(worker);
  pool.sessionsLost += lost;
  const { path, failuresBeforeUnhealthy } = pool.config.healthCheck;
  worker.lastError = `${worker.id} stopped answering GET ${path} on port ${worker.port} (${failuresBeforeUnhealthy} failed health checks in a row) after ${seconds(uptime)}; it was stopped (SIGTERM, SIGKILL after ${pool.config.stop.graceSeconds}s) and replaced.`;
  if (lost > 0) rt.record(sessionsLost(pool.name, worker.id, lost, 'unhealthy'));
  void stopWorker(rt, pool, worker, 'unhealthy: it does not answer its health check');
  scheduleReplacement(rt, pool, uptime);
}
