import { describeExit, workerEvents } from './events';
import { handleExit } from './crash-replacement';
import { waitForHealthy } from './health-check';
import { watchLiveness } from './liveness';
import type { Pool } from './pool';
import { findFreePort } from './ports';
import type { Runtime } from './runtime';
import { Worker } from './worker';
import { SpawnedWorkerProcess } from './worker-process';

/** Starts retried on another port after a worker lost its port to another process. */
const MAX_PORT_RETRIES = 2;

/** A worker that did not become ready; its message says why, with its last output. */
export class StartFailure extends Error {
  constructor(readonly worker: Worker) {
    super(worker.lastError ?? `${worker.id} did not start`);
  }
}

/**
 * Spawns the pool's next generation and waits for its health check. `onReady` runs in the same
 * tick the worker becomes a target for new sessions (detach-and-sync detaches the old one
 * there, so there is never a moment without a worker for new sessions). Throws StartFailure.
 */
export async function startWorker(rt: Runtime, pool: Pool, actor: string, onReady?: (worker: Worker) => void): Promise<Worker> {
  const worker = await launchWorker(rt, pool, actor);
  attachWorker(rt, pool, worker);
  onReady?.(worker);
  announceStarted(rt, worker, actor);
  return worker;
}

/**
 * Starts `count` workers and makes them targets for new sessions only once every one of them is
 * ready, all in one tick, then `onAllReady` (detach-and-sync of a pool of several instances:
 * new sessions switch revision at once, never to a mix). If any fails, the ready ones are
 * stopped again and the first failure is thrown: nothing changes for the running workers.
 */
export async function startWorkersTogether(
  rt: Runtime,
  pool: Pool,
  actor: string,
  count: number,
  onAllReady: (started: readonly Worker[]) => void,
): Promise<Worker[]> {
  if (count <= 1) return [await startWorker(rt, pool, actor, (worker) => onAllReady([worker]))];
  const settled = await Promise.allSettled(Array.from({ length: count }, () => launchWorker(rt, pool, actor)));
  const ready = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  // A ready one may have exited while it waited for the others (handleExit leaves a starting worker to us).
  const exited = ready.find((worker) => worker.exitCode !== null || worker.exitSignal !== null);
  const failure = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure === undefined && exited === undefined && !rt.stopping) {
    for (const worker of ready) attachWorker(rt, pool, worker);
    onAllReady(ready);
    for (const worker of ready) announceStarted(rt, worker, actor);
    return ready;
  }
  if (exited !== undefined) {
    const reason = `it exited while the other new workers started (${describeExit({ code: exited.exitCode, signal: exited.exitSignal as NodeJS.Signals | null })})`;
    exited.lastError = `${exited.id} did not start: ${reason}.`;
    pool.deployFailure = { worker: exited.id, revision: exited.revision, reason: exited.lastError, at: new Date().toISOString() };
    rt.table.transition(exited, 'failed');
    rt.record(workerEvents.failedToStart(actor, exited, reason));
  }
  const unneeded = ready.filter((worker) => worker !== exited);
  await Promise.all(unneeded.map((worker) => abandonWorker(rt, pool, worker, 'another new worker of the same detach-and-sync did not start')));
  if (failure !== undefined) throw failure.reason;
  throw new StartFailure(exited ?? (ready[0] as Worker));
}

/** A healthy worker becomes a target for new sessions, and is watched from now on. */
function attachWorker(rt: Runtime, pool: Pool, worker: Worker): void {
  rt.table.transition(worker, 'started');
  pool.deployFailure = null;
  watchLiveness(rt, pool, worker);
}

/** Recorded after the caller's same-tick step (the old worker's detach), as the log reads best. */
function announceStarted(rt: Runtime, worker: Worker, actor: string): void {
  rt.record(workerEvents.started(actor, worker, Date.now() - (worker.startedAt as Date).getTime()));
}

/** Stops a ready worker that is not needed after all (it never took a session). */
async function abandonWorker(rt: Runtime, pool: Pool, worker: Worker, reason: string): Promise<void> {
  const { graceSeconds } = pool.config.stop;
  worker.stopRequested = true;
  rt.table.transition(worker, 'stopping');
  rt.record(workerEvents.stopping(worker, reason, graceSeconds));
  await worker.process?.terminate(graceSeconds * 1000);
}

/**
 * Spawns the pool's next generation and waits until it answers its health check; it stays
 * `starting` (not a target yet). Throws StartFailure, after stopping it.
 */
async function launchWorker(rt: Runtime, pool: Pool, actor: string, portRetries = 0): Promise<Worker> {
  const config = pool.config;
  const generation = pool.rows.takeGeneration();
  rt.store?.setNextGeneration(pool.name, pool.rows.nextGeneration);
  const preferredPort = config.basePort + generation;
  const port = await findFreePort(preferredPort, pool.rows.takenPorts());
  const worker = new Worker(pool.name, generation, port, config.revision, config.logLines);
  worker.startConfig = config;
  worker.startedAt = new Date();
  rt.addWorker(worker);
  rt.record(workerEvents.starting(actor, worker, preferredPort, config));

  const proc = new SpawnedWorkerProcess({
    command: config.command,
    cwd: config.cwd,
    env: {
      ...rt.workerEnv,
      ...config.env,
      PORT: String(port),
      HANDOVER_WORKER: worker.id,
      HANDOVER_POOL: pool.name,
      HANDOVER_REVISION: config.revision,
      ...rt.reportChannel?.envFor(worker.id),
    },
    logs: worker.logs,
    logFiles: rt.logFiles(worker.id),
    logRotation: () => pool.config.logs,
  });
  worker.process = proc;
  rt.persist(worker);
  const exited = new AbortController();
  void proc.exited.then((info) => {
    exited.abort();
    handleExit(rt, pool, worker, info);
  });

  const outcome = await waitForHealthy({
    port,
    path: config.healthCheck.path,
    timeoutMs: config.healthCheck.timeoutSeconds * 1000,
    intervalMs: config.healthCheck.intervalMs,
    signal: exited.signal,
  });

  if (outcome === 'ready' && worker.state === 'starting' && !rt.stopping) return worker;

  // Leaving with the workers running: this one too (recorded as starting; the next
  // supervisor adopts it if it answers).
  if (rt.leaving) throw new StartFailure(worker);
  const reason = rt.stopping
    ? 'the supervisor is shutting down'
    : outcome === 'timeout'
      ? `it did not answer GET ${config.healthCheck.path} on port ${port} within ${config.healthCheck.timeoutSeconds}s`
      : `it exited during start (${describeExit({ code: worker.exitCode, signal: worker.exitSignal as NodeJS.Signals | null })})`;
  worker.stopRequested = true;
  await proc.terminate(config.stop.graceSeconds * 1000);
  if (worker.state === 'starting') rt.table.transition(worker, 'failed');
  const output = worker.logs.tailText(20);
  worker.lastError = `${worker.id} did not start: ${reason}.${output ? ` Its last output:\n${output}` : ' It printed nothing.'}`;
  if (!rt.stopping) pool.deployFailure = { worker: worker.id, revision: worker.revision, reason: worker.lastError, at: new Date().toISOString() };
  rt.record(workerEvents.failedToStart(actor, worker, reason));
  // Another process took the port between our check and the worker's listen (a client
  // connection's ephemeral port, say): nothing is wrong with the release, so try the next
  // generation on the next free port, twice at most.
  if (!rt.stopping && outcome !== 'timeout' && portRetries < MAX_PORT_RETRIES && /EADDRINUSE/.test(output)) {
    rt.record(workerEvents.lostPort(actor, worker, portRetries + 1));
    return launchWorker(rt, pool, actor, portRetries + 1);
  }
  throw new StartFailure(worker);
}

/** Starts workers until the pool has the attached workers it wants; a failed start is thrown. */
export async function fillPool(rt: Runtime, pool: Pool, actor: string, started: Worker[] = []): Promise<Worker[]> {
  while (pool.wantsWorker() && !rt.stopping) started.push(await startWorker(rt, pool, actor));
  return started;
}

/**
 * Workers are the user's application: they must not learn the control token, the console's key
 * and password or any other Handover setting, so every HANDOVER_* variable is dropped (a new
 * secret is covered without a list to keep up). Handover sets HANDOVER_WORKER, _POOL,
 * _REVISION and the session-report channel's _REPORT_URL and _REPORT_TOKEN afresh for each worker, and a pool's own `env` is applied after this.
 */
export function withoutHandoverVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = {} as NodeJS.ProcessEnv;
  for (const [key, value] of Object.entries(env)) if (!key.startsWith('HANDOVER_')) copy[key] = value;
  return copy;
}
