/**
 * A worker's process ended: a stop we asked for, a failed start (worker-start.ts reports that),
 * or a crash. A crashed attached worker is replaced after a back-off, PM2 style, until the pool's
 * crash policy gives up (pool status `errored` until the operator syncs).
 */
import { isTerminal } from '@handover/process-table';
import { SUPERVISOR, describeExit, poolBackoff, poolErrored, seconds, sessionsLost, workerEvents } from './events';
import type { Pool } from './pool';
import type { Runtime } from './runtime';
import type { Worker } from './worker';
import type { ExitInfo } from './worker-process';
import { startWorker } from './worker-start';
import { exclusive } from './exclusive';

export function handleExit(rt: Runtime, pool: Pool, worker: Worker, info: ExitInfo): void {
  if (rt.leaving) return;
  worker.exitCode = info.code;
  worker.exitSignal = info.signal;
  worker.clearDrainTimer();
  if (worker.state === 'starting') return; // startWorker reports a failed start itself
  if (worker.state === 'stopping') {
    // Stopped because it hung: its end was not wanted, so it shows as crashed, with why.
    const hung = worker.health === 'unhealthy' && worker.lastError !== null;
    rt.table.transition(worker, hung ? 'crashed' : 'stopped');
    rt.record(hung ? workerEvents.endedUnhealthy(worker, info) : workerEvents.stopped(worker, info));
    return;
  }
  if (isTerminal(worker.state)) return;

  const wasAttached = worker.state === 'started';
  const uptime = worker.uptimeMs();
  rt.table.transition(worker, 'crashed');
  const lost = pool.sessions.unbindOwner(worker);
  pool.sessionsLost += lost;
  const output = worker.logs.tailText(20);
  worker.lastError = `${worker.id} exited unexpectedly (${describeExit(info)}) after ${seconds(uptime)}.${output ? ` Its last output:\n${output}` : ''}`;
  rt.record(workerEvents.crashed(worker, info, uptime, lost));
  if (lost > 0) rt.record(sessionsLost(pool.name, worker.id, lost, 'crash'));
  if (wasAttached && !rt.stopping) scheduleReplacement(rt, pool, uptime);
}

/** Replaces a crashed (or never started) attached worker after a back-off. */
export function scheduleReplacement(rt: Runtime, pool: Pool, uptimeMs: number): void {
  if (pool.restartTimer !== null || rt.stopping || !pool.wantsWorker()) return;
  const decision = pool.crashes.recordCrash(uptimeMs);
  if (decision.action === 'give-up') {
    pool.status = 'errored';
    pool.nextRestartAt = null;
    pool.lastError =
      `${pool.name} failed ${decision.unstableRestarts} times in a row within ${pool.config.restart.minUptimeSeconds}s of starting; ` +
      `automatic restarts are stopped. Fix the release, then run \`handover sync ${pool.name}\`.`;
    rt.record(poolErrored(pool.name, pool.lastError));
    return;
  }
  pool.status = 'backoff';
  pool.nextRestartAt = new Date(Date.now() + decision.delayMs);
  rt.record(poolBackoff(pool.name, decision.delayMs, decision.unstableRestarts, pool.config.restart.maxRestarts));
  const attempt = (): void => {
    pool.restartTimer = null;
    if (rt.stopping) return;
    if (pool.busy !== null) {
      // An operator action is starting a worker right now; look again once it is done.
      pool.restartTimer = setTimeout(attempt, 500);
      return;
    }
    pool.nextRestartAt = null;
    if (!pool.wantsWorker()) {
      pool.status = 'ok';
      return;
    }
    void exclusive(pool, `restart of ${pool.name}`, () => startWorker(rt, pool, SUPERVISOR)).then(
      () => {
        pool.status = 'ok';
        pool.lastError = null;
      },
      (error: unknown) => {
        pool.lastError = error instanceof Error ? error.message : String(error);
        scheduleReplacement(rt, pool, 0);
      },
    );
  };
  pool.restartTimer = setTimeout(attempt, decision.delayMs);
}

/** Cancels a pending replacement (a sync takes over, or the supervisor stops). */
export function clearRestart(pool: Pool): void {
  if (pool.restartTimer !== null) clearTimeout(pool.restartTimer);
  pool.restartTimer = null;
  pool.nextRestartAt = null;
}

