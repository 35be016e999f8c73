import { ConfigError, type HandoverConfig, type PoolConfig, loadConfig } from '@handover/config';
import {
  ControlError,
  CrashTracker,
  type DetachAndSyncResult,
  type HandoverEvent,
  type LogLine,
  type PoolInfo,
  type PoolStatus,
  type SessionSample,
  type SupervisorControl,
  type SyncResult,
  type WorkerInfo,
  isAlive,
  isDrained,
  isTerminal,
  newestStarted,
  parseWorkerId,
} from '@handover/process-table';
import type { Route, Upstream } from '@handover/proxy';
import { SessionTable } from '@handover/session-table';
import type { EventLog, NewEvent } from './event-log';
import { waitForHealthy } from './health-check';
import { findFreePort } from './ports';
import { residentMemory } from './process-stats';
import { SessionHistory } from './session-history';
import { Worker } from './worker';
import { WorkerProcess } from './worker-process';

const SUPERVISOR = 'supervisor';
/** Ended workers kept per pool for the record (the event log keeps the full history). */
const KEEP_ENDED_WORKERS = 5;

/** The proxy's view of a pool, with the fields a sync may change left writable. */
interface PoolRoute extends Route {
  idleTimeoutMs: number;
}

/** One configured pool at run time: its workers, its session table and its crash policy. */
class Pool {
  readonly workers: Worker[] = [];
  /** Holds only this pool's Workers; typed by what the proxy sees of them. */
  readonly sessions: SessionTable<Upstream>;
  readonly route: PoolRoute;
  readonly crashes: CrashTracker;
  nextGeneration = 0;
  status: PoolStatus = 'ok';
  lastError: string | null = null;
  nextRestartAt: Date | null = null;
  restartTimer: NodeJS.Timeout | null = null;
  sessionsLost = 0;
  /** The operation in progress (a start is not instant); a second one gets CONFLICT. */
  busy: string | null = null;

  constructor(
    public config: PoolConfig,
    onRelease: (worker: Worker) => void,
  ) {
    this.sessions = new SessionTable<Upstream>({
      onRelease: (upstream) => {
        if (upstream.draining) onRelease(upstream as Worker);
      },
    });
    this.route = {
      sessionCookie: config.sessionCookie,
      sessionPathParameter: config.sessionPathParameter ?? undefined,
      idleTimeoutMs: config.idleTimeoutSeconds * 1000,
      sessions: this.sessions,
      target: undefined,
    };
    this.crashes = new CrashTracker(crashPolicy(config));
  }

  get name(): string {
    return this.config.name;
  }

  attachedCount(): number {
    let count = 0;
    for (const worker of this.workers) if (worker.attached) count++;
    return count;
  }

  /** New sessions go to the newest ready attached worker; called after every state change. */
  retarget(): void {
    this.route.target = newestStarted(this.workers);
  }

  info(): PoolInfo {
    return {
      name: this.name,
      revision: this.config.revision,
      command: this.config.command,
      sessionCookie: this.config.sessionCookie,
      instances: this.config.instances,
      attached: this.attachedCount(),
      status: this.status,
      restarts: this.crashes.unstableRestarts,
      nextRestartAt: this.nextRestartAt?.toISOString() ?? null,
      lastError: this.lastError,
      sessionsLost: this.sessionsLost,
    };
  }
}

function crashPolicy(config: PoolConfig) {
  return {
    minUptimeMs: config.restart.minUptimeSeconds * 1000,
    maxRestarts: config.restart.maxRestarts,
    backoffInitialMs: config.restart.backoffInitialMs,
    backoffMaxMs: config.restart.backoffMaxMs,
  };
}

/** A worker that did not become ready; its message says why, with its last output. */
class StartFailure extends Error {
  constructor(readonly worker: Worker) {
    super(worker.lastError ?? `${worker.id} did not start`);
  }
}

export interface SupervisorOptions {
  config: HandoverConfig;
  events: EventLog;
  /** Re-reads the configuration for a sync; defaults to reading the same file again. */
  reloadConfig?: () => Promise<HandoverConfig>;
  /** Environment the workers inherit (Handover's own secrets are removed from it). */
  env?: NodeJS.ProcessEnv;
  /** How often idle sessions are expired. */
  sweepIntervalMs?: number;
  /** How often session counts and memory are sampled for the console. */
  sampleIntervalMs?: number;
}

/** Sessions examined per sweep slice: about 1–3 ms of work. */
const SWEEP_SLICE = 5_000;
const SWEEP_SLICE_MS = 2;

/** Ten minutes of samples at the default interval. */
const HISTORY_SAMPLES = 300;

/**
 * The process table and the operations on it: start, detach, detach-and-sync, reattach, sync,
 * crash replacement and drain. It owns no sockets: the proxy reads `routeOf(pool)` and reports
 * back through `onProxyRelease`, the control API calls the SupervisorControl methods.
 */
export class Supervisor implements SupervisorControl {
  private readonly pools = new Map<string, Pool>();
  private readonly events: EventLog;
  private readonly reloadConfig: () => Promise<HandoverConfig>;
  private readonly workerEnv: NodeJS.ProcessEnv;
  private readonly sweepIntervalMs: number;
  private readonly sampleIntervalMs: number;
  private readonly history = new SessionHistory(HISTORY_SAMPLES);
  private sweepTimer: NodeJS.Timeout | null = null;
  private sampleTimer: NodeJS.Timeout | null = null;
  private sweepContinues = false;
  private shuttingDown = false;

  constructor(options: SupervisorOptions) {
    this.events = options.events;
    this.reloadConfig =
      options.reloadConfig ?? (() => loadConfig({ path: options.config.configPath, env: options.env }));
    this.workerEnv = withoutHandoverSecrets(options.env ?? process.env);
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1000;
    this.sampleIntervalMs = options.sampleIntervalMs ?? 2000;
    for (const poolConfig of options.config.pools) {
      this.pools.set(poolConfig.name, new Pool(poolConfig, (worker) => this.scheduleDrainCheck(worker)));
    }
  }

  /** Starts every pool's workers; a pool that fails to start retries with back-off. */
  async start(): Promise<void> {
    this.record({ type: 'supervisor.started', actor: SUPERVISOR, message: `supervisor started (pid ${process.pid})` });
    this.sweepTimer = setInterval(() => this.sweepSessions(), this.sweepIntervalMs);
    this.sweepTimer.unref();
    this.sampleTimer = setInterval(() => void this.sample(), this.sampleIntervalMs);
    this.sampleTimer.unref();
    await Promise.all(
      [...this.pools.values()].map(async (pool) => {
        while (pool.attachedCount() < pool.config.instances && !this.shuttingDown) {
          try {
            await this.startWorker(pool, SUPERVISOR);
          } catch (error) {
            if (!(error instanceof StartFailure)) throw error;
            this.scheduleReplacement(pool, 0);
            return;
          }
        }
      }),
    );
  }

  routeOf(pool: string): Route {
    const found = this.pools.get(pool);
    if (found === undefined) throw new Error(`no pool named ${pool}`);
    return found.route;
  }

  /** The proxy lowered a draining worker's in-flight or WebSocket count. */
  readonly onProxyRelease = (upstream: Upstream): void => this.scheduleDrainCheck(upstream as Worker);

  // ---- SupervisorControl -------------------------------------------------------------------

  listWorkers(): WorkerInfo[] {
    const list: WorkerInfo[] = [];
    for (const pool of this.pools.values()) for (const worker of pool.workers) list.push(worker.info());
    return list;
  }

  listPools(): PoolInfo[] {
    return [...this.pools.values()].map((pool) => pool.info());
  }

  async detach(id: string, actor: string): Promise<WorkerInfo> {
    const { pool, worker } = this.find(id);
    this.requireState(worker, 'started', 'detach');
    const others = pool.workers.filter((other) => other !== worker && other.state === 'started');
    if (others.length === 0) {
      throw new ControlError(
        'PRECONDITION_FAILED',
        `${id} is the only worker taking new sessions in pool ${pool.name}; detaching it would leave new visitors with nothing. ` +
          `Use detach-and-sync (\`handover detach ${id} --sync\`) to start a successor first.`,
      );
    }
    this.action(actor, pool, worker, `detach ${id}`);
    this.detachWorker(pool, worker, actor);
    return worker.info();
  }

  async detachAndSync(id: string, actor: string): Promise<DetachAndSyncResult> {
    const { pool, worker } = this.find(id);
    this.requireState(worker, 'started', 'detach and sync');
    return this.exclusive(pool, `detach-and-sync of ${id} by ${actor}`, async () => {
      this.action(actor, pool, worker, `detach and sync ${id}`);
      await this.applyConfig(actor);
      let successor: Worker;
      try {
        // The old worker is detached in the same tick the successor becomes ready, so there
        // is never a moment without a worker for new sessions.
        successor = await this.startWorker(pool, actor, () => {
          if (worker.state === 'started') this.detachWorker(pool, worker, actor);
        });
      } catch (error) {
        if (!(error instanceof StartFailure)) throw error;
        throw new ControlError(
          'PRECONDITION_FAILED',
          `${error.worker.id} (revision ${error.worker.revision}) failed to start, so ${id} stays attached and keeps serving. ${error.message}`,
        );
      }
      return { detached: worker.info(), started: successor.info() };
    });
  }

  async reattach(id: string, actor: string): Promise<WorkerInfo> {
    const { pool, worker } = this.find(id);
    this.requireState(worker, 'detached', 'reattach');
    return this.exclusive(pool, `reattach of ${id} by ${actor}`, async () => {
      this.action(actor, pool, worker, `reattach ${id}`);
      this.clearDrainTimer(worker);
      worker.transition('started');
      this.record({
        type: 'worker.reattached',
        actor,
        pool: pool.name,
        worker: id,
        message: `${id} reattached by ${actor}: takes new sessions again`,
      });
      // Rolling back means the newer workers step aside: detach the newest until the pool
      // has the number of attached workers it wants.
      const newerFirst = pool.workers.filter((w) => w !== worker && w.state === 'started').reverse();
      for (const other of newerFirst) {
        if (pool.attachedCount() <= pool.config.instances) break;
        this.detachWorker(pool, other, actor);
      }
      pool.retarget();
      return worker.info();
    });
  }

  async sync(poolName: string | undefined, actor: string): Promise<SyncResult> {
    const targets = poolName === undefined ? [...this.pools.values()] : [this.findPool(poolName)];
    const busy = targets.find((pool) => pool.busy !== null);
    if (busy) throw this.conflict(busy);
    this.record({ type: 'action', actor, pool: poolName ?? null, message: `sync ${poolName ?? 'all pools'}` });
    await this.applyConfig(actor);
    const result: SyncResult = { pools: [] };
    await Promise.all(
      targets.map(async (pool) => {
        const entry = { pool: pool.name, started: [] as WorkerInfo[], error: null as string | null };
        result.pools.push(entry);
        if (pool.busy !== null) {
          entry.error = `skipped: ${pool.busy} is in progress`;
          return;
        }
        await this.exclusive(pool, `sync of ${pool.name} by ${actor}`, async () => {
          // A sync is the operator's "try again": it lifts a crash loop stop.
          this.clearRestart(pool);
          pool.crashes.reset();
          pool.status = 'ok';
          pool.lastError = null;
          while (pool.attachedCount() < pool.config.instances) {
            try {
              entry.started.push((await this.startWorker(pool, actor)).info());
            } catch (error) {
              if (!(error instanceof StartFailure)) throw error;
              entry.error = error.message;
              pool.lastError = error.message;
              break;
            }
          }
        });
        this.record({
          type: 'pool.synced',
          actor,
          pool: pool.name,
          message:
            entry.error !== null
              ? `sync of ${pool.name} failed: ${firstLine(entry.error)}`
              : entry.started.length === 0
                ? `${pool.name} already has ${pool.config.instances} attached worker(s); nothing to start`
                : `sync of ${pool.name} started ${entry.started.map((w) => w.id).join(', ')} on revision ${pool.config.revision}`,
          data: { started: entry.started.map((w) => w.id), error: entry.error },
        });
      }),
    );
    result.pools.sort((a, b) => a.pool.localeCompare(b.pool));
    return result;
  }

  logs(id: string, lines: number): LogLine[] {
    return this.find(id).worker.logs.tail(lines);
  }

  listEvents(options: { afterId?: number; limit: number }): HandoverEvent[] {
    return this.events.list(options);
  }

  onEvent(listener: (event: HandoverEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  sessionHistory(): SessionSample[] {
    return this.history.list();
  }

  // ---- shutdown ----------------------------------------------------------------------------

  /** Stops every worker (SIGTERM, SIGKILL after each pool's grace) and every timer. */
  async shutdown(reason = 'supervisor shutting down'): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.record({ type: 'supervisor.stopping', actor: SUPERVISOR, message: reason });
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.sampleTimer) clearInterval(this.sampleTimer);
    const stops: Promise<void>[] = [];
    for (const pool of this.pools.values()) {
      this.clearRestart(pool);
      for (const worker of pool.workers) {
        this.clearDrainTimer(worker);
        if (isAlive(worker.state)) stops.push(this.stopWorker(pool, worker, reason));
      }
    }
    await Promise.all(stops);
    this.record({ type: 'supervisor.stopped', actor: SUPERVISOR, message: 'every worker stopped' });
  }

  /** Last resort on an unexpected supervisor exit: SIGKILL every worker group right now. */
  killAll(): void {
    for (const pool of this.pools.values()) for (const worker of pool.workers) worker.process?.kill();
  }

  // ---- starting ----------------------------------------------------------------------------

  /**
   * Spawns the next generation and waits for its health check. `onReady` runs in the same tick
   * the worker becomes the target for new sessions.
   */
  private async startWorker(pool: Pool, actor: string, onReady?: () => void): Promise<Worker> {
    const config = pool.config;
    const generation = pool.nextGeneration++;
    const taken = new Set(pool.workers.filter((w) => isAlive(w.state)).map((w) => w.port));
    const port = await findFreePort(config.basePort + generation, taken);
    const worker = new Worker(pool.name, generation, port, config.revision, config.logLines);
    worker.startedAt = new Date();
    pool.workers.push(worker);
    this.pruneEnded(pool);
    this.record({
      type: 'worker.starting',
      actor,
      pool: pool.name,
      worker: worker.id,
      message: `starting ${worker.id} on port ${port}, revision ${config.revision}`,
      data: { port, revision: config.revision, command: config.command },
    });

    const proc = new WorkerProcess({
      command: config.command,
      cwd: config.cwd,
      env: {
        ...this.workerEnv,
        ...config.env,
        PORT: String(port),
        HANDOVER_WORKER: worker.id,
        HANDOVER_POOL: pool.name,
        HANDOVER_REVISION: config.revision,
      },
      logs: worker.logs,
    });
    worker.process = proc;
    const exited = new AbortController();
    void proc.exited.then((info) => {
      exited.abort();
      this.onExit(pool, worker, info.code, info.signal);
    });

    const outcome = await waitForHealthy({
      port,
      path: config.healthCheck.path,
      timeoutMs: config.healthCheck.timeoutSeconds * 1000,
      intervalMs: config.healthCheck.intervalMs,
      signal: exited.signal,
    });

    if (outcome === 'ready' && worker.state === 'starting' && !this.shuttingDown) {
      worker.transition('started');
      pool.retarget();
      onReady?.();
      pool.retarget();
      const took = Date.now() - worker.startedAt.getTime();
      this.record({
        type: 'worker.started',
        actor,
        pool: pool.name,
        worker: worker.id,
        message: `${worker.id} is ready (revision ${worker.revision}, pid ${proc.pid}, port ${port}) after ${seconds(took)}; it takes new sessions`,
        data: { pid: proc.pid, port, revision: worker.revision, startMs: took },
      });
      return worker;
    }

    const reason = this.shuttingDown
      ? 'the supervisor is shutting down'
      : outcome === 'timeout'
        ? `it did not answer GET ${config.healthCheck.path} on port ${port} within ${config.healthCheck.timeoutSeconds}s`
        : `it exited during start (${describeExit(worker.exitCode, worker.exitSignal)})`;
    worker.stopRequested = true;
    await proc.terminate(config.stop.graceSeconds * 1000);
    if (worker.state === 'starting') worker.transition('failed');
    const output = worker.logs.tailText(20);
    worker.lastError = `${worker.id} did not start: ${reason}.${output ? ` Its last output:\n${output}` : ' It printed nothing.'}`;
    this.record({
      type: 'worker.failed',
      actor,
      pool: pool.name,
      worker: worker.id,
      message: `${worker.id} did not start: ${reason}`,
      data: { output: worker.logs.tail(20).map((line) => line.text) },
    });
    throw new StartFailure(worker);
  }

  // ---- process exits, crashes and replacement -----------------------------------------------

  private onExit(pool: Pool, worker: Worker, code: number | null, signal: string | null): void {
    worker.exitCode = code;
    worker.exitSignal = signal;
    this.clearDrainTimer(worker);
    if (worker.state === 'starting') return; // startWorker reports a failed start itself
    if (worker.state === 'stopping') {
      worker.transition('stopped');
      this.record({
        type: 'worker.stopped',
        actor: SUPERVISOR,
        pool: pool.name,
        worker: worker.id,
        message: `${worker.id} stopped (${describeExit(code, signal)})`,
        data: { code, signal },
      });
      return;
    }
    if (isTerminal(worker.state)) return;

    const wasAttached = worker.state === 'started';
    const uptime = worker.uptimeMs();
    worker.transition('crashed');
    const lost = pool.sessions.unbindOwner(worker);
    pool.sessionsLost += lost;
    pool.retarget();
    const output = worker.logs.tailText(20);
    worker.lastError = `${worker.id} exited unexpectedly (${describeExit(code, signal)}) after ${seconds(uptime)}.${output ? ` Its last output:\n${output}` : ''}`;
    this.record({
      type: 'worker.crashed',
      actor: SUPERVISOR,
      pool: pool.name,
      worker: worker.id,
      message: `${worker.id} crashed (${describeExit(code, signal)}) after ${seconds(uptime)}${lost > 0 ? `; ${lost} session(s) lost` : ''}`,
      data: { code, signal, uptimeMs: uptime, sessionsLost: lost },
    });
    if (lost > 0) {
      this.record({
        type: 'sessions.lost',
        actor: SUPERVISOR,
        pool: pool.name,
        worker: worker.id,
        message: `${lost} session(s) of ${worker.id} were lost when it crashed`,
        data: { count: lost, reason: 'crash' },
      });
    }
    if (wasAttached && !this.shuttingDown) this.scheduleReplacement(pool, uptime);
  }

  /** Replaces a crashed (or never started) attached worker after a back-off, PM2 style. */
  private scheduleReplacement(pool: Pool, uptimeMs: number): void {
    if (pool.restartTimer !== null || this.shuttingDown) return;
    if (pool.attachedCount() >= pool.config.instances) return;
    const decision = pool.crashes.recordCrash(uptimeMs);
    if (decision.action === 'give-up') {
      pool.status = 'errored';
      pool.nextRestartAt = null;
      pool.lastError =
        `${pool.name} failed ${decision.unstableRestarts} times in a row within ${pool.config.restart.minUptimeSeconds}s of starting; ` +
        `automatic restarts are stopped. Fix the release, then run \`handover sync ${pool.name}\`.`;
      this.record({ type: 'pool.errored', actor: SUPERVISOR, pool: pool.name, message: pool.lastError });
      return;
    }
    pool.status = 'backoff';
    pool.nextRestartAt = new Date(Date.now() + decision.delayMs);
    this.record({
      type: 'pool.backoff',
      actor: SUPERVISOR,
      pool: pool.name,
      message: `restarting ${pool.name} in ${seconds(decision.delayMs)} (attempt ${decision.unstableRestarts} of ${pool.config.restart.maxRestarts})`,
      data: { delayMs: decision.delayMs, attempt: decision.unstableRestarts },
    });
    const attempt = (): void => {
      pool.restartTimer = null;
      if (this.shuttingDown) return;
      if (pool.busy !== null) {
        // An operator action is starting a worker right now; look again once it is done.
        pool.restartTimer = setTimeout(attempt, 500);
        return;
      }
      pool.nextRestartAt = null;
      if (pool.attachedCount() >= pool.config.instances) {
        pool.status = 'ok';
        return;
      }
      void this.exclusive(pool, `restart of ${pool.name}`, () => this.startWorker(pool, SUPERVISOR)).then(
        () => {
          pool.status = 'ok';
          pool.lastError = null;
        },
        (error: unknown) => {
          pool.lastError = error instanceof Error ? error.message : String(error);
          this.scheduleReplacement(pool, 0);
        },
      );
    };
    pool.restartTimer = setTimeout(attempt, decision.delayMs);
  }

  private clearRestart(pool: Pool): void {
    if (pool.restartTimer !== null) clearTimeout(pool.restartTimer);
    pool.restartTimer = null;
    pool.nextRestartAt = null;
  }

  // ---- detach, drain and stop ----------------------------------------------------------------

  private detachWorker(pool: Pool, worker: Worker, actor: string): void {
    worker.transition('detached');
    pool.retarget();
    const maxSeconds = pool.config.drain.maxSeconds;
    this.record({
      type: 'worker.detached',
      actor,
      pool: pool.name,
      worker: worker.id,
      message:
        `${worker.id} detached: keeps serving its ${worker.sessions} session(s), takes no new ones` +
        (pool.route.target ? `; new sessions go to ${pool.route.target.id}` : '') +
        (maxSeconds !== null ? `; drain ends at the latest in ${maxSeconds}s` : ''),
      data: { sessions: worker.sessions, inFlight: worker.inFlight, webSockets: worker.webSockets },
    });
    if (maxSeconds !== null) {
      worker.drainTimer = setTimeout(() => this.endDrain(pool, worker), maxSeconds * 1000);
      worker.drainTimer.unref();
    }
    this.scheduleDrainCheck(worker);
  }

  /** The maximum drain time ran out: cut what is left and stop the worker. */
  private endDrain(pool: Pool, worker: Worker): void {
    worker.drainTimer = null;
    if (worker.state !== 'detached') return;
    const { sessions, inFlight, webSockets } = worker;
    const lost = pool.sessions.unbindOwner(worker);
    pool.sessionsLost += lost;
    this.record({
      type: 'sessions.lost',
      actor: SUPERVISOR,
      pool: pool.name,
      worker: worker.id,
      message: `${worker.id} reached the maximum drain time of ${pool.config.drain.maxSeconds}s with ${sessions} session(s), ${inFlight} request(s) and ${webSockets} WebSocket(s) left; stopping it anyway`,
      data: { count: lost, inFlight, webSockets, reason: 'drain-timeout' },
    });
    void this.stopWorker(pool, worker, 'maximum drain time reached');
  }

  private scheduleDrainCheck(worker: Worker): void {
    // Deferred: the proxy and the session table call in the middle of their own bookkeeping.
    if (worker.state === 'detached' && isDrained(worker)) queueMicrotask(() => this.checkDrain(worker));
  }

  private checkDrain(worker: Worker): void {
    if (worker.state !== 'detached' || !isDrained(worker) || this.shuttingDown) return;
    const pool = this.pools.get(worker.pool);
    if (pool === undefined) return;
    const drainedAfter = worker.detachedAt ? Date.now() - worker.detachedAt.getTime() : 0;
    this.record({
      type: 'worker.drained',
      actor: SUPERVISOR,
      pool: pool.name,
      worker: worker.id,
      message: `${worker.id} has no sessions, requests or WebSockets left (drained in ${seconds(drainedAfter)}); stopping it`,
      data: { drainMs: drainedAfter },
    });
    void this.stopWorker(pool, worker, 'drained');
  }

  private async stopWorker(pool: Pool, worker: Worker, reason: string): Promise<void> {
    const proc = worker.process;
    if (!isAlive(worker.state) || proc === null) return;
    this.clearDrainTimer(worker);
    worker.stopRequested = true;
    const graceMs = pool.config.stop.graceSeconds * 1000;
    if (worker.state !== 'stopping') {
      if (worker.state === 'starting') {
        // startWorker sees the exit, marks it failed and reports it.
        await proc.terminate(graceMs);
        return;
      }
      worker.transition('stopping');
      pool.retarget();
      this.record({
        type: 'worker.stopping',
        actor: SUPERVISOR,
        pool: pool.name,
        worker: worker.id,
        message: `stopping ${worker.id} (${reason}): SIGTERM, SIGKILL after ${pool.config.stop.graceSeconds}s`,
      });
    }
    const result = await proc.terminate(graceMs);
    if (result.killed) {
      this.record({
        type: 'worker.killed',
        actor: SUPERVISOR,
        pool: pool.name,
        worker: worker.id,
        message: `${worker.id} did not exit within ${pool.config.stop.graceSeconds}s of SIGTERM and was killed`,
      });
    }
  }

  private clearDrainTimer(worker: Worker): void {
    if (worker.drainTimer !== null) clearTimeout(worker.drainTimer);
    worker.drainTimer = null;
  }

  /** Session counts for the chart and each live worker's memory, every few seconds. */
  private async sample(): Promise<void> {
    const sessions: Record<string, number> = {};
    const alive: Worker[] = [];
    for (const pool of this.pools.values()) {
      for (const worker of pool.workers) {
        if (!isAlive(worker.state)) continue;
        sessions[worker.id] = worker.sessions;
        alive.push(worker);
      }
    }
    this.history.record({ at: new Date().toISOString(), sessions });
    await Promise.all(
      alive.map(async (worker) => {
        const pid = worker.process?.pid;
        if (pid != null) worker.memoryRss = await residentMemory(pid);
      }),
    );
  }

  private sweepSessions(): void {
    // Small slices, each its own macrotask, so even a mass expiry of a million sessions never
    // holds the event loop (and the proxy) for more than a couple of milliseconds.
    let unfinished = false;
    for (const pool of this.pools.values()) if (!pool.sessions.sweep(SWEEP_SLICE, SWEEP_SLICE_MS).done) unfinished = true;
    if (unfinished && !this.shuttingDown && !this.sweepContinues) {
      this.sweepContinues = true;
      setImmediate(() => {
        this.sweepContinues = false;
        this.sweepSessions();
      });
    }
  }

  // ---- configuration -------------------------------------------------------------------------

  /** Re-reads the configuration; a broken file is refused whole and changes nothing. */
  private async applyConfig(actor: string): Promise<void> {
    let next: HandoverConfig;
    try {
      next = await this.reloadConfig();
    } catch (error) {
      const message = error instanceof ConfigError ? error.message : String(error);
      this.record({ type: 'config.rejected', actor, message: `configuration not applied: ${message}` });
      throw new ControlError('PRECONDITION_FAILED', `The configuration was not applied and nothing changed: ${message}`);
    }
    const notes: string[] = [];
    for (const config of next.pools) {
      const pool = this.pools.get(config.name);
      if (pool === undefined) {
        notes.push(`pool ${config.name} is new: restart the supervisor to add it`);
        continue;
      }
      if (config.sessionCookie !== pool.config.sessionCookie) {
        notes.push(`${config.name}: a new session cookie takes a supervisor restart; still using ${pool.config.sessionCookie}`);
        config.sessionCookie = pool.config.sessionCookie;
      }
      pool.config = config;
      pool.route.idleTimeoutMs = config.idleTimeoutSeconds * 1000;
      pool.crashes.reconfigure(crashPolicy(config));
    }
    for (const name of this.pools.keys()) {
      if (!next.pools.some((p) => p.name === name)) notes.push(`pool ${name} is gone from the file: it keeps running until the supervisor restarts`);
    }
    this.record({
      type: 'config.reloaded',
      actor,
      message:
        `configuration reloaded: ${[...this.pools.values()].map((p) => `${p.name} → ${p.config.revision}`).join(', ')}` +
        (notes.length ? `; ${notes.join('; ')}` : ''),
      data: { revisions: Object.fromEntries([...this.pools.values()].map((p) => [p.name, p.config.revision])), notes },
    });
  }

  // ---- helpers -------------------------------------------------------------------------------

  private find(id: string): { pool: Pool; worker: Worker } {
    const parsed = parseWorkerId(id);
    const pool = parsed ? this.pools.get(parsed.pool) : undefined;
    const worker = pool?.workers.find((w) => w.generation === parsed?.generation);
    if (pool === undefined || worker === undefined) {
      const known = this.listWorkers()
        .filter((w) => isAlive(w.state))
        .map((w) => w.id);
      throw new ControlError('NOT_FOUND', `no worker ${id}; running workers: ${known.join(', ') || 'none'}`);
    }
    return { pool, worker };
  }

  private findPool(name: string): Pool {
    const pool = this.pools.get(name);
    if (pool === undefined) {
      throw new ControlError('NOT_FOUND', `no pool ${name}; pools: ${[...this.pools.keys()].join(', ')}`);
    }
    return pool;
  }

  private requireState(worker: Worker, state: 'started' | 'detached', what: string): void {
    if (worker.state === state) return;
    const hint =
      state === 'started'
        ? worker.state === 'detached'
          ? ' It is already detached (draining); reattach it to roll back.'
          : worker.state === 'starting'
            ? ' Wait until it is ready.'
            : ''
        : worker.state === 'started'
          ? ' It is attached already.'
          : ' Only a detached worker that is still running can be reattached.';
    throw new ControlError('PRECONDITION_FAILED', `cannot ${what} ${worker.id}: it is ${worker.state}.${hint}`);
  }

  private async exclusive<T>(pool: Pool, what: string, operation: () => Promise<T>): Promise<T> {
    if (pool.busy !== null) throw this.conflict(pool);
    pool.busy = what;
    try {
      return await operation();
    } finally {
      pool.busy = null;
    }
  }

  private conflict(pool: Pool): ControlError {
    return new ControlError('CONFLICT', `pool ${pool.name} is busy: ${pool.busy} is in progress; try again when it has finished`);
  }

  private action(actor: string, pool: Pool, worker: Worker, what: string): void {
    this.record({ type: 'action', actor, pool: pool.name, worker: worker.id, message: `${actor}: ${what}` });
  }

  private record(event: NewEvent): void {
    this.events.record(event);
  }

  private pruneEnded(pool: Pool): void {
    const ended = pool.workers.filter((w) => isTerminal(w.state));
    for (const worker of ended.slice(0, Math.max(0, ended.length - KEEP_ENDED_WORKERS))) {
      pool.workers.splice(pool.workers.indexOf(worker), 1);
    }
  }
}

function withoutHandoverSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = {} as NodeJS.ProcessEnv;
  for (const [key, value] of Object.entries(env)) {
    // Workers are the user's application: they must not learn the control token or passwords.
    if (key === 'HANDOVER_CONTROL_TOKEN' || key.startsWith('HANDOVER_ADMIN_')) continue;
    copy[key] = value;
  }
  return copy;
}

function describeExit(code: number | null, signal: string | null): string {
  if (signal !== null) return `signal ${signal}`;
  if (code !== null) return `exit code ${code}`;
  return 'it could not be run';
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}
