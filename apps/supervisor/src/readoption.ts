/**
 * Re-adoption: a new supervisor takes over what a previous one left. Every worker recorded alive
 * whose process is still the same (pid and /proc start time) and answers its health check is
 * adopted in its recorded state with its sessions (minus the certainly expired ones); anything
 * else is reported lost with its sessions, and killed if it still runs. Generations only grow.
 */
import type { PoolConfig } from '@handover/config';
import { isAlive } from '@handover/process-table';
import { handleExit } from './crash-replacement';
import { armDrainDeadline, scheduleDrainCheck } from './drain';
import { seconds, sessionsLost, sessionsReconciled, workerEvents } from './events';
import { waitForHealthy } from './health-check';
import { watchLiveness } from './liveness';
import type { Pool } from './pool';
import { checkProcess, signalGroup } from './proc-identity';
import type { Runtime } from './runtime';
import type { StateStore, StoredSession, StoredWorker } from './state-store';
import { Worker } from './worker';
import { AdoptedWorkerProcess } from './worker-process';
import { stopWorker } from './worker-stop';

/** A re-adopted worker must answer its health check within this (or the pool's timeout if shorter). */
const ADOPT_HEALTH_TIMEOUT_MS = 5_000;

type Verdict = { kind: 'adopt' } | { kind: 'lost'; reason: string; killed: boolean };

export async function readopt(rt: Runtime): Promise<void> {
  const store = rt.store;
  if (store === null) return;
  const began = Date.now();
  const saved = store.readState();
  for (const [name, next] of saved.nextGeneration) rt.pools.get(name)?.rows.raiseGeneration(next);
  const candidates: StoredWorker[] = [];
  for (const row of saved.workers) {
    rt.pools.get(row.pool)?.rows.raiseGeneration(row.generation + 1);
    if (isAlive(row.state)) candidates.push(row);
    else {
      // Ended under a previous supervisor: the event log has its story.
      store.deleteWorker(row.id);
      rt.removeLogs(row.id);
    }
  }
  for (const pool of rt.pools.values()) store.setNextGeneration(pool.name, pool.rows.nextGeneration);
  if (candidates.length === 0) return;

  // Every stored session was alive at the last flush; its true expiry lies between then
  // and then + ttl. One that is surely expired by now is not restored (nor counted lost).
  // Streamed from the store per worker: a million rows never sit in memory beside the table.
  function* live(id: string): Generator<StoredSession> {
    const now = Date.now();
    for (const s of (store as StateStore).sessionsOf(id)) if (Math.max(s.expiresAt, (saved.flushedAt ?? 0) + s.ttlMs) > now) yield s;
  }
  const decide = (row: StoredWorker, verdict: Verdict) => {
    if (verdict.kind === 'adopt') return adopt(rt, row, live(row.id), began);
    let lost = 0;
    for (const _ of live(row.id)) lost++;
    reportLost(rt, row, lost, verdict.reason, verdict.killed);
  };
  // Health checks in parallel, each worker taken over as soon as it answers (a frozen one
  // does not hold up the others). Workers recorded `starting` are decided last, once the
  // pool knows how many attached workers it already has.
  const starting = candidates.filter((row) => row.state === 'starting');
  const startingVerdicts = Promise.all(starting.map((row) => assess(rt, row)));
  await Promise.all(candidates.filter((row) => row.state !== 'starting').map(async (row) => decide(row, await assess(rt, row))));
  const verdicts = await startingVerdicts;
  for (const [index, row] of starting.entries()) decide(row, verdicts[index]!);
}

async function assess(rt: Runtime, row: StoredWorker): Promise<Verdict> {
  if (row.pid === null) return { kind: 'lost', reason: 'it had no process', killed: false };
  const identity = { pid: row.pid, startTime: row.pidStartTime };
  const found = checkProcess(identity);
  if (found === 'gone') return { kind: 'lost', reason: `its process (pid ${row.pid}) is gone`, killed: false };
  if (found === 'reused') {
    return { kind: 'lost', reason: `its pid ${row.pid} now belongs to another process (different start time)`, killed: false };
  }
  const pool = rt.pools.get(row.pool);
  if (pool === undefined) {
    signalGroup(row.pid, 'SIGTERM');
    return { kind: 'lost', reason: `pool ${row.pool} is no longer in the configuration; it was sent SIGTERM`, killed: true };
  }
  // A worker that was stopping goes on stopping; it need not answer.
  if (row.state === 'stopping') return { kind: 'adopt' };
  const config = pool.config.healthCheck;
  const timeoutMs = Math.min(config.timeoutSeconds * 1000, ADOPT_HEALTH_TIMEOUT_MS);
  const outcome = await waitForHealthy({ port: row.port, path: config.path, timeoutMs, intervalMs: config.intervalMs, signal: new AbortController().signal });
  if (outcome === 'ready' && checkProcess(identity) === 'alive') return { kind: 'adopt' };
  // Alive but not answering (hung, stopped): it would hold its port and serve no one.
  const killed = checkProcess(identity) === 'alive' && signalGroup(row.pid, 'SIGKILL');
  return {
    kind: 'lost',
    reason: `its process (pid ${row.pid}) is alive but did not answer GET ${config.path} on port ${row.port} within ${seconds(timeoutMs)}${killed ? '; its process group was killed' : ''}`,
    killed,
  };
}

/** A row of the previous supervisor as a Worker of this one (not yet in the table). */
function workerFromRow(pool: Pool, row: StoredWorker): Worker {
  const worker = new Worker(pool.name, row.generation, row.port, row.revision, pool.config.logLines);
  worker.startedAt = parseDate(row.startedAt);
  worker.readyAt = parseDate(row.readyAt);
  worker.detachedAt = parseDate(row.detachedAt);
  return worker;
}

function adopt(rt: Runtime, row: StoredWorker, sessions: Iterable<StoredSession>, began: number): void {
  const pool = rt.pools.get(row.pool)!;
  const worker = workerFromRow(pool, row);
  worker.adopted = true;
  const proc = new AdoptedWorkerProcess({
    pid: row.pid!,
    startTime: row.pidStartTime,
    logs: worker.logs,
    logFiles: rt.logFiles(worker.id),
    logRotation: () => pool.config.logs,
  });
  worker.process = proc;
  let state = row.state;
  let note = '';
  if (state === 'starting') {
    // It became ready while no supervisor watched: take it if the pool wants it.
    if (pool.wantsWorker()) {
      state = 'started';
      worker.readyAt ??= new Date();
    } else {
      state = 'stopping';
      note = `; it was starting, but ${pool.name} has its ${pool.config.instances} attached ${pool.config.instances === 1 ? 'worker' : 'workers'}, so it is stopped`;
    }
  }
  rt.addWorker(worker);
  rt.table.restore(worker, state);
  void proc.exited.then((info) => handleExit(rt, pool, worker, info));
  const unconfirmedMs = unconfirmedWindowMs(pool.config);
  let awaitingConfirmation = false;
  // Counted as bound, not as read: a full table (maxSessions) may refuse some.
  if (state === 'detached' && unconfirmedMs !== null) {
    // They may be phantoms (ended in the last flush interval): see reconcileRestored.
    for (const session of sessions) pool.restored.restore(session.id, worker, session.ttlMs);
    if (worker.sessions > 0) {
      const timer = setTimeout(() => reconcileRestored(rt, pool, worker), unconfirmedMs);
      timer.unref();
      rt.reconcileTimers.set(worker, timer);
      awaitingConfirmation = true;
    }
  } else if (state === 'started' || state === 'detached') {
    for (const session of sessions) pool.sessions.bind(session.id, worker, session.ttlMs);
  }

  const maxSeconds = pool.config.drain.maxSeconds;
  let drainLeftMs: number | null = null;
  if (state === 'detached' && maxSeconds !== null) {
    const detachedFor = worker.detachedAt === null ? 0 : Date.now() - worker.detachedAt.getTime();
    drainLeftMs = Math.max(0, maxSeconds * 1000 - detachedFor);
  }
  rt.record(
    workerEvents.adopted(worker, {
      pid: row.pid,
      state,
      sessions: worker.sessions,
      adoptMs: Date.now() - began,
      drainLeftMs,
      unconfirmedMs: awaitingConfirmation ? unconfirmedMs : null,
      note,
    }),
  );
  if (state === 'started' || state === 'detached') watchLiveness(rt, pool, worker);
  if (state === 'detached') {
    if (maxSeconds !== null) armDrainDeadline(rt, pool, worker, maxSeconds);
    scheduleDrainCheck(rt, worker);
  } else if (state === 'stopping') {
    void stopWorker(rt, pool, worker, 'it was stopping when the previous supervisor ended');
  }
}

/**
 * The confirmation window of a re-adopted detached worker's restored sessions is over: those
 * nobody used and the app did not report are dropped, so they no longer hold its drain (they
 * are most likely sessions the app ended just before the previous supervisor died, which the
 * store never heard of). A real one whose user comes back later is found again through its
 * route cookie while the worker runs.
 */
function reconcileRestored(rt: Runtime, pool: Pool, worker: Worker): void {
  rt.reconcileTimers.delete(worker);
  const detached = worker.state === 'detached' && !rt.stopping;
  const counts = pool.restored.settle(worker, detached);
  if (counts === null) return;
  const windowSeconds = (unconfirmedWindowMs(pool.config) ?? 0) / 1000;
  rt.record(sessionsReconciled(pool.name, worker.id, worker.state, counts, windowSeconds, detached));
  if (counts.dropped > 0) scheduleDrainCheck(rt, worker);
}

function reportLost(rt: Runtime, row: StoredWorker, sessions: number, reason: string, killed: boolean): void {
  const pool = rt.pools.get(row.pool);
  if (pool === undefined) {
    rt.store?.deleteWorker(row.id);
  } else {
    // Kept in the table, crashed, so `status` and the console show it too.
    const worker = workerFromRow(pool, row);
    worker.stoppedAt = new Date();
    worker.lastError = `${worker.id} was lost while no supervisor watched it: ${reason}`;
    rt.addWorker(worker);
    rt.table.restore(worker, 'crashed');
    pool.sessionsLost += sessions;
  }
  rt.record(workerEvents.lost(row, reason, killed, sessions));
  if (sessions > 0) rt.record(sessionsLost(row.pool, row.id, sessions, 'not-readopted'));
}

/** How long restored bindings of a detached worker may stay unconfirmed: drain.unconfirmedSeconds, at most the idle timeout; null: no limit. */
function unconfirmedWindowMs(config: PoolConfig): number | null {
  const seconds = config.drain.unconfirmedSeconds;
  return seconds === null ? null : Math.min(seconds, config.idleTimeoutSeconds) * 1000;
}

function parseDate(text: string | null): Date | null {
  return text === null ? null : new Date(text);
}

