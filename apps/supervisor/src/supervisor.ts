import { join } from 'node:path';
import { ConfigError, type HandoverConfig, type PoolConfig, formatConfigWarning, loadConfig } from '@handover/config';
import { ControlError, type SupervisorControl } from '@handover/control-api';
import {
  CrashTracker,
  type DetachAndSyncResult,
  type HandoverEvent,
  type LogLine,
  type PoolInfo,
  type PoolStatus,
  type SessionSample,
  type SupervisorStopResult,
  type SyncResult,
  type WorkerInfo,
  isAlive,
  isDrained,
  isRoutable,
  isTerminal,
  newestStarted,
  parseWorkerId,
} from '@handover/process-table';
import type { Route, Upstream } from '@handover/proxy';
import type { SessionLimitInfo } from '@handover/session-table';
import type { EventLog, NewEvent } from './event-log';
import { probe, waitForHealthy } from './health-check';
import { JournaledSessionTable } from './journaled-session-table';
import { CRASH_LOOP_AFTER, type KeeperRestart } from './keeper';
import { removeLogFiles } from './log-rotation';
import type { LogFiles } from './log-tail';
import { findFreePort } from './ports';
import { checkProcess, signalGroup } from './proc-identity';
import { residentMemory } from './process-stats';
import { SessionHistory } from './session-history';
import type { StateStore, StoredSession, StoredWorker } from './state-store';
import { Worker } from './worker';
import { AdoptedWorkerProcess, type ExitInfo, SpawnedWorkerProcess } from './worker-process';

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
  readonly sessions: JournaledSessionTable;
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
    journal: StateStore | null,
    routeKey: Buffer | undefined,
    onLimit: (pool: Pool, info: SessionLimitInfo) => void = () => {},
  ) {
    this.sessions = new JournaledSessionTable(journal, {
      // Read at start: a sync does not resize a table.
      maxSessions: config.maxSessions,
      onLimit: (info) => onLimit(this, info),
      onRelease: (upstream, _reason, id) => {
        if (id !== undefined) {
          journal?.released(id);
          this.sessions.released(id);
        }
        if (upstream.draining) onRelease(upstream as Worker);
      },
    });
    this.route = {
      sessionCookie: config.sessionCookie,
      sessionPathParameter: config.sessionPathParameter ?? undefined,
      sessionCookieDuplicates: config.sessionCookieDuplicates,
      idleTimeoutMs: config.idleTimeoutSeconds * 1000,
      sessions: this.sessions,
      target: undefined,
      routeCookie:
        routeKey === undefined || config.routeCookie === null
          ? undefined
          : { name: config.routeCookie, key: routeKey, upstream: (id) => this.workers.find((worker) => worker.id === id) },
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
  /**
   * Where the process table and the session bindings are kept so a new supervisor can
   * re-adopt the workers; without one, nothing is recorded or re-adopted.
   */
  store?: StateStore;
  /** Re-reads the configuration for a sync; defaults to reading the same file again. */
  reloadConfig?: () => Promise<HandoverConfig>;
  /** Environment the workers inherit (without any HANDOVER_* variable: see withoutHandoverVariables). */
  env?: NodeJS.ProcessEnv;
  /** How often idle sessions are expired. */
  sweepIntervalMs?: number;
  /** How often session counts and memory are sampled for the console. */
  sampleIntervalMs?: number;
  /**
   * Key of the signed route cookie that lets a binding lost with the process (a `kill -9`
   * within the store's flush interval) be restored; no route cookie without one.
   */
  routeKey?: Buffer;
  /** Set when the keeper restarted the supervisor after it died: why, and how often in a row. */
  keeperRestart?: KeeperRestart;
}

/** Starts retried on another port after a worker lost its port to another process. */
const MAX_PORT_RETRIES = 2;

/** Sessions examined per sweep slice: about 1–3 ms of work. */
const SWEEP_SLICE = 5_000;
const SWEEP_SLICE_MS = 2;

/** A re-adopted worker must answer its health check within this (or the pool's timeout if shorter). */
const ADOPT_HEALTH_TIMEOUT_MS = 5_000;

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
  /** Leaving on purpose with the workers left running (`handover stop --keep-workers`). */
  private leaving = false;
  private readonly store: StateStore | null;
  private readonly logsDir: string;
  /** The configuration's warnings (e.g. a basePort in the ephemeral port range), recorded at start. */
  private readonly configWarnings: string[];
  private readonly keeperRestart: KeeperRestart | undefined;
  private stopHandler: ((keepWorkers: boolean) => void) | null = null;
  private stopRequested = false;
  /** Re-adopted detached workers whose restored sessions are still unconfirmed (see reconcileRestored). */
  private readonly reconcileTimers = new Map<Worker, NodeJS.Timeout>();

  constructor(options: SupervisorOptions) {
    this.events = options.events;
    this.store = options.store ?? null;
    this.logsDir = join(options.config.dataDir, 'logs');
    this.configWarnings = (options.config.warnings ?? []).map(formatConfigWarning);
    this.keeperRestart = options.keeperRestart;
    this.reloadConfig =
      options.reloadConfig ?? (() => loadConfig({ path: options.config.configPath, env: options.env }));
    this.workerEnv = withoutHandoverVariables(options.env ?? process.env);
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1000;
    this.sampleIntervalMs = options.sampleIntervalMs ?? 2000;
    for (const poolConfig of options.config.pools) {
      this.pools.set(poolConfig.name, new Pool(poolConfig, (worker) => this.scheduleDrainCheck(worker), this.store, options.routeKey, (pool, info) => this.sessionLimitReached(pool, info)));
    }
  }

  /**
   * Re-adopts the workers a previous supervisor left running (see `restore`), then starts
   * workers where a pool has fewer attached than wanted; a pool that fails to start retries
   * with back-off.
   */
  async start(): Promise<void> {
    const restart = this.keeperRestart;
    const restartedBecause =
      restart === undefined ? undefined : `the previous supervisor (pid ${restart.previousPid}) died (${restart.cause}); restart ${restart.restartsInRow} in a row`;
    this.record({
      type: 'supervisor.started',
      actor: SUPERVISOR,
      message:
        `supervisor started (pid ${process.pid})` +
        (restartedBecause === undefined ? '' : ` by the keeper: ${restartedBecause}`) +
        this.configWarnings.map((w) => `; configuration ${w}`).join(''),
      ...(this.configWarnings.length > 0 || restart !== undefined
        ? {
            data: {
              ...(this.configWarnings.length > 0 ? { warnings: this.configWarnings } : {}),
              ...(restart === undefined ? {} : { restartedBecause, keeperRestart: restart }),
            },
          }
        : {}),
    });
    if (restart !== undefined && restart.restartsInRow >= CRASH_LOOP_AFTER) {
      // Its own event, so the console and `handover events` show the loop, not just a restart.
      this.record({
        type: 'supervisor.crashLoop',
        actor: SUPERVISOR,
        message:
          `the supervisor keeps dying: restart ${restart.restartsInRow} in a row, the last one ended by ${restart.cause} (pid ${restart.previousPid}). ` +
          `The keeper restarts it for ever, waiting ${seconds(restart.delayMs)} this time (doubling up to ${seconds(restart.maxDelayMs)}), and keeps the ports open; ` +
          'find the cause in its output (stderr of `handover start`). `handover stop` stops everything.',
        data: {
          restartsInRow: restart.restartsInRow,
          lastPid: restart.previousPid,
          lastCause: restart.cause,
          delayMs: restart.delayMs,
          maxDelayMs: restart.maxDelayMs,
        },
      });
    }
    await this.restore();
    this.store?.startFlushing();
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

  async stopSupervisor(options: { keepWorkers: boolean }, actor: string): Promise<SupervisorStopResult> {
    const handler = this.stopHandler;
    if (handler === null) {
      throw new ControlError('PRECONDITION_FAILED', 'this supervisor cannot be stopped through the control API (it is embedded); stop its process instead');
    }
    if (this.stopRequested || this.shuttingDown) {
      throw new ControlError('CONFLICT', 'the supervisor is already stopping');
    }
    this.stopRequested = true;
    const workers = this.listWorkers()
      .filter((w) => isAlive(w.state))
      .map((w) => w.id);
    this.record({
      type: 'action',
      actor,
      message: options.keepWorkers
        ? `${actor}: stop the supervisor and leave ${workers.length} worker(s) running for the next start to re-adopt`
        : `${actor}: stop the supervisor and every worker`,
      data: { keepWorkers: options.keepWorkers, workers },
    });
    // After the answer has gone out.
    setImmediate(() => handler(options.keepWorkers));
    return { keepWorkers: options.keepWorkers, workers, pid: process.pid };
  }

  /** What a `supervisor.stop` request does (the launcher stops the listeners and exits). */
  setStopHandler(handler: (keepWorkers: boolean) => void): void {
    this.stopHandler = handler;
  }

  // ---- shutdown ----------------------------------------------------------------------------

  /** Stops every worker (SIGTERM, SIGKILL after each pool's grace) and every timer. */
  async shutdown(reason = 'supervisor shutting down'): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.record({ type: 'supervisor.stopping', actor: SUPERVISOR, message: reason });
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.sampleTimer) clearInterval(this.sampleTimer);
    for (const timer of this.reconcileTimers.values()) clearTimeout(timer);
    this.reconcileTimers.clear();
    const stops: Promise<void>[] = [];
    for (const pool of this.pools.values()) {
      this.clearRestart(pool);
      for (const worker of pool.workers) {
        this.clearDrainTimer(worker);
        this.clearLiveness(worker);
        if (isAlive(worker.state)) stops.push(this.stopWorker(pool, worker, reason));
      }
    }
    await Promise.all(stops);
    this.record({ type: 'supervisor.stopped', actor: SUPERVISOR, message: 'every worker stopped' });
  }

  /**
   * Leaves without stopping any worker: timers stop, the workers' processes are let go of (no
   * signal), and the store keeps them recorded in their current state with their sessions, so
   * the next start re-adopts them. Returns the ids of the workers left running.
   */
  async leave(reason = 'supervisor leaving; workers keep running'): Promise<string[]> {
    if (this.shuttingDown) return [];
    this.shuttingDown = true;
    this.leaving = true;
    this.record({ type: 'supervisor.stopping', actor: SUPERVISOR, message: reason });
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.sampleTimer) clearInterval(this.sampleTimer);
    for (const timer of this.reconcileTimers.values()) clearTimeout(timer);
    this.reconcileTimers.clear();
    const left: string[] = [];
    const releases: Promise<void>[] = [];
    for (const pool of this.pools.values()) {
      this.clearRestart(pool);
      for (const worker of pool.workers) {
        // Not cleared in the store: the next supervisor resumes the drain with what is left.
        this.clearDrainTimer(worker);
        this.clearLiveness(worker);
        if (!isAlive(worker.state) || worker.process === null) continue;
        left.push(worker.id);
        releases.push(worker.process.release());
      }
    }
    await Promise.all(releases);
    await this.store?.drain();
    this.record({
      type: 'supervisor.stopped',
      actor: SUPERVISOR,
      message: `supervisor stopped; ${left.length} worker(s) left running for the next start to re-adopt${left.length ? `: ${left.join(', ')}` : ''}`,
      data: { keepWorkers: true, workers: left },
    });
    return left;
  }

  /** Last resort on an unexpected supervisor exit: SIGKILL every worker group right now. */
  killAll(): void {
    if (this.leaving) return;
    for (const pool of this.pools.values()) for (const worker of pool.workers) worker.process?.kill();
  }

  // ---- re-adoption -------------------------------------------------------------------------

  /**
   * Takes over what a previous supervisor left: every worker recorded alive whose process is
   * still the same (pid and /proc start time) and answers its health check is re-adopted in its
   * recorded state with its sessions (minus the certainly expired ones); anything else is
   * reported as lost with its sessions, and killed if it still runs. Generations only grow.
   */
  private async restore(): Promise<void> {
    const store = this.store;
    if (store === null) return;
    const began = Date.now();
    const saved = store.readState();
    for (const [name, next] of saved.nextGeneration) {
      const pool = this.pools.get(name);
      if (pool !== undefined) pool.nextGeneration = Math.max(pool.nextGeneration, next);
    }
    const candidates: StoredWorker[] = [];
    for (const row of saved.workers) {
      const pool = this.pools.get(row.pool);
      if (pool !== undefined) pool.nextGeneration = Math.max(pool.nextGeneration, row.generation + 1);
      if (isAlive(row.state)) candidates.push(row);
      else {
        // Ended under a previous supervisor: the event log has its story.
        store.deleteWorker(row.id);
        this.removeLogs(row.id);
      }
    }
    for (const pool of this.pools.values()) store.setNextGeneration(pool.name, pool.nextGeneration);
    if (candidates.length === 0) return;

    // Every stored session was alive at the last flush; its true expiry lies between then
    // and then + ttl. One that is surely expired by now is not restored (nor counted lost).
    // Streamed from the store per worker: a million rows never sit in memory beside the table.
    function* live(id: string): Generator<StoredSession> {
      const now = Date.now();
      for (const s of (store as StateStore).sessionsOf(id)) if (Math.max(s.expiresAt, (saved.flushedAt ?? 0) + s.ttlMs) > now) yield s;
    }
    const decide = (row: StoredWorker, verdict: Awaited<ReturnType<Supervisor['assess']>>) => {
      if (verdict.kind === 'adopt') return this.adopt(row, live(row.id), began);
      let lost = 0;
      for (const _ of live(row.id)) lost++;
      this.reportLost(row, lost, verdict.reason, verdict.killed);
    };
    // Health checks in parallel, each worker taken over as soon as it answers (a frozen one
    // does not hold up the others). Workers recorded `starting` are decided last, once the
    // pool knows how many attached workers it already has.
    const starting = candidates.filter((row) => row.state === 'starting');
    const startingVerdicts = Promise.all(starting.map((row) => this.assess(row)));
    await Promise.all(
      candidates.filter((row) => row.state !== 'starting').map(async (row) => decide(row, await this.assess(row))),
    );
    const verdicts = await startingVerdicts;
    for (const [index, row] of starting.entries()) decide(row, verdicts[index]!);
  }

  private async assess(row: StoredWorker): Promise<{ kind: 'adopt' } | { kind: 'lost'; reason: string; killed: boolean }> {
    if (row.pid === null) return { kind: 'lost', reason: 'it had no process', killed: false };
    const identity = { pid: row.pid, startTime: row.pidStartTime };
    const found = checkProcess(identity);
    if (found === 'gone') return { kind: 'lost', reason: `its process (pid ${row.pid}) is gone`, killed: false };
    if (found === 'reused') {
      return { kind: 'lost', reason: `its pid ${row.pid} now belongs to another process (different start time)`, killed: false };
    }
    const pool = this.pools.get(row.pool);
    if (pool === undefined) {
      signalGroup(row.pid, 'SIGTERM');
      return { kind: 'lost', reason: `pool ${row.pool} is no longer in the configuration; it was sent SIGTERM`, killed: true };
    }
    // A worker that was stopping goes on stopping; it need not answer.
    if (row.state === 'stopping') return { kind: 'adopt' };
    const config = pool.config.healthCheck;
    const timeoutMs = Math.min(config.timeoutSeconds * 1000, ADOPT_HEALTH_TIMEOUT_MS);
    const outcome = await waitForHealthy({
      port: row.port,
      path: config.path,
      timeoutMs,
      intervalMs: config.intervalMs,
      signal: new AbortController().signal,
    });
    if (outcome === 'ready' && checkProcess(identity) === 'alive') return { kind: 'adopt' };
    // Alive but not answering (hung, stopped): it would hold its port and serve no one.
    const killed = checkProcess(identity) === 'alive' && signalGroup(row.pid, 'SIGKILL');
    return {
      kind: 'lost',
      reason: `its process (pid ${row.pid}) is alive but did not answer GET ${config.path} on port ${row.port} within ${seconds(timeoutMs)}${killed ? '; its process group was killed' : ''}`,
      killed,
    };
  }

  private adopt(row: StoredWorker, sessions: Iterable<StoredSession>, began: number): void {
    const pool = this.pools.get(row.pool)!;
    const worker = new Worker(pool.name, row.generation, row.port, row.revision, pool.config.logLines);
    worker.adopted = true;
    worker.startedAt = parseDate(row.startedAt);
    worker.readyAt = parseDate(row.readyAt);
    worker.detachedAt = parseDate(row.detachedAt);
    worker.onChange = (w) => this.persist(w);
    const proc = new AdoptedWorkerProcess({
      pid: row.pid!,
      startTime: row.pidStartTime,
      logs: worker.logs,
      logFiles: this.logFiles(worker.id),
      logRotation: () => pool.config.logs,
    });
    worker.process = proc;
    let state = row.state;
    let note = '';
    if (state === 'starting') {
      // It became ready while no supervisor watched: take it if the pool wants it.
      if (pool.attachedCount() < pool.config.instances) {
        state = 'started';
        worker.readyAt ??= new Date();
      } else {
        state = 'stopping';
        note = `; it was starting, but ${pool.name} has its ${pool.config.instances} attached worker(s), so it is stopped`;
      }
    }
    addInGenerationOrder(pool.workers, worker);
    worker.restore(state);
    void proc.exited.then((info) => this.onExit(pool, worker, info));
    const unconfirmedMs = unconfirmedWindowMs(pool.config);
    // Counted as bound, not as read: a full table (maxSessions) may refuse some.
    if (state === 'detached' && unconfirmedMs !== null) {
      // They may be phantoms (ended in the last flush interval): see reconcileRestored.
      for (const session of sessions) pool.sessions.restore(session.id, worker, session.ttlMs);
      if (worker.sessions > 0) {
        const timer = setTimeout(() => this.reconcileRestored(pool, worker), unconfirmedMs);
        timer.unref();
        this.reconcileTimers.set(worker, timer);
      }
    } else if (state === 'started' || state === 'detached') {
      for (const session of sessions) pool.sessions.bind(session.id, worker, session.ttlMs);
    }
    const restored = worker.sessions;
    pool.retarget();

    let drainLeftMs: number | null = null;
    const maxSeconds = pool.config.drain.maxSeconds;
    if (state === 'detached' && maxSeconds !== null) {
      const detachedFor = worker.detachedAt === null ? 0 : Date.now() - worker.detachedAt.getTime();
      drainLeftMs = Math.max(0, maxSeconds * 1000 - detachedFor);
    }
    const took = Date.now() - began;
    this.record({
      type: 'worker.adopted',
      actor: SUPERVISOR,
      pool: pool.name,
      worker: worker.id,
      message:
        `${worker.id} re-adopted (pid ${row.pid}, port ${row.port}, revision ${row.revision}, ${state}) with ${restored} session(s)` +
        (drainLeftMs !== null ? `; its drain ends at the latest in ${seconds(drainLeftMs)}` : '') +
        (this.reconcileTimers.has(worker) ? `; they are unconfirmed: those not used or reported within ${seconds(unconfirmedMs!)} are dropped` : '') +
        note,
      data: { pid: row.pid, port: row.port, state, sessions: restored, adoptMs: took, drainLeftMs },
    });
    if (state === 'started' || state === 'detached') this.watchLiveness(pool, worker);
    if (state === 'detached') {
      if (maxSeconds !== null) this.armDrainTimer(pool, worker, maxSeconds);
      this.scheduleDrainCheck(worker);
    } else if (state === 'stopping') {
      void this.stopWorker(pool, worker, 'it was stopping when the previous supervisor ended');
    }
  }

  /**
   * The confirmation window of a re-adopted detached worker's restored sessions is over: those
   * nobody used and the app did not report are dropped, so they no longer hold its drain (they
   * are most likely sessions the app ended just before the previous supervisor died, which the
   * store never heard of). A real one whose user comes back later is found again through its
   * route cookie while the worker runs.
   */
  private reconcileRestored(pool: Pool, worker: Worker): void {
    this.reconcileTimers.delete(worker);
    const detached = worker.state === 'detached' && !this.shuttingDown;
    const counts = pool.sessions.settle(worker, detached);
    if (counts === null) return;
    const { restored, confirmed, ended, dropped } = counts;
    const windowSeconds = (unconfirmedWindowMs(pool.config) ?? 0) / 1000;
    this.record({
      type: 'sessions.reconciled',
      actor: SUPERVISOR,
      pool: pool.name,
      worker: worker.id,
      message:
        (dropped > 0
          ? `${dropped} restored session(s) of ${worker.id} were dropped: no request carried them and the app did not report them within ${windowSeconds}s of the restart (most likely ended just before the previous supervisor died)`
          : `no restored session of ${worker.id} was dropped`) +
        `; of ${restored} restored, ${confirmed} confirmed, ${ended} ended since` +
        (detached ? '' : ` (it is ${worker.state} now, so none were dropped)`),
      data: { restored, confirmed, ended, dropped, windowSeconds },
    });
    if (dropped > 0) this.scheduleDrainCheck(worker);
  }

  private reportLost(row: StoredWorker, sessions: number, reason: string, killed: boolean): void {
    const pool = this.pools.get(row.pool);
    if (pool === undefined) {
      this.store?.deleteWorker(row.id);
    } else {
      // Kept in the table, crashed, so `status` and the console show it too.
      const worker = new Worker(pool.name, row.generation, row.port, row.revision, pool.config.logLines);
      worker.startedAt = parseDate(row.startedAt);
      worker.readyAt = parseDate(row.readyAt);
      worker.detachedAt = parseDate(row.detachedAt);
      worker.stoppedAt = new Date();
      worker.lastError = `${worker.id} was lost while no supervisor watched it: ${reason}`;
      worker.onChange = (w) => this.persist(w);
      addInGenerationOrder(pool.workers, worker);
      worker.restore('crashed');
      pool.sessionsLost += sessions;
    }
    this.record({
      type: 'worker.lost',
      actor: SUPERVISOR,
      pool: row.pool,
      worker: row.id,
      message: `${row.id} (recorded ${row.state}) could not be re-adopted: ${reason}${sessions > 0 ? `; ${sessions} session(s) lost` : ''}`,
      data: { pid: row.pid, recordedState: row.state, reason, killed, sessionsLost: sessions },
    });
    if (sessions > 0) {
      this.record({
        type: 'sessions.lost',
        actor: SUPERVISOR,
        pool: row.pool,
        worker: row.id,
        message: `${sessions} session(s) of ${row.id} were lost: it could not be re-adopted`,
        data: { count: sessions, reason: 'not-readopted' },
      });
    }
  }

  /** Records a worker's state in the store (called on every state change). */
  private persist(worker: Worker): void {
    const store = this.store;
    if (store === null || this.leaving || !store.isOpen) return;
    store.saveWorker({
      id: worker.id,
      pool: worker.pool,
      generation: worker.generation,
      port: worker.port,
      revision: worker.revision,
      state: worker.state,
      pid: worker.process?.pid ?? null,
      pidStartTime: worker.process?.startTime ?? null,
      startedAt: isoOrNull(worker.startedAt),
      readyAt: isoOrNull(worker.readyAt),
      detachedAt: isoOrNull(worker.detachedAt),
      stoppedAt: isoOrNull(worker.stoppedAt),
      updatedAt: new Date().toISOString(),
    });
  }

  private logFiles(id: string): LogFiles {
    return { stdout: join(this.logsDir, `${id}.out.log`), stderr: join(this.logsDir, `${id}.err.log`) };
  }

  private removeLogs(id: string): void {
    removeLogFiles(this.logFiles(id));
  }

  // ---- starting ----------------------------------------------------------------------------

  /**
   * Spawns the next generation and waits for its health check. `onReady` runs in the same tick
   * the worker becomes the target for new sessions.
   */
  private async startWorker(pool: Pool, actor: string, onReady?: () => void, portRetries = 0): Promise<Worker> {
    const config = pool.config;
    const generation = pool.nextGeneration++;
    this.store?.setNextGeneration(pool.name, pool.nextGeneration);
    const taken = new Set(pool.workers.filter((w) => isAlive(w.state)).map((w) => w.port));
    const preferredPort = config.basePort + generation;
    const port = await findFreePort(preferredPort, taken);
    const worker = new Worker(pool.name, generation, port, config.revision, config.logLines);
    worker.startedAt = new Date();
    worker.onChange = (w) => this.persist(w);
    pool.workers.push(worker);
    this.pruneEnded(pool);
    this.record({
      type: 'worker.starting',
      actor,
      pool: pool.name,
      worker: worker.id,
      message:
        `starting ${worker.id} on port ${port}, revision ${config.revision}` +
        (port !== preferredPort ? ` (port ${preferredPort} = basePort + ${generation} is in use, so the next free one)` : ''),
      data: { port, preferredPort, revision: config.revision, command: config.command },
    });

    const proc = new SpawnedWorkerProcess({
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
      logFiles: this.logFiles(worker.id),
      logRotation: () => pool.config.logs,
    });
    worker.process = proc;
    this.persist(worker);
    const exited = new AbortController();
    void proc.exited.then((info) => {
      exited.abort();
      this.onExit(pool, worker, info);
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
      this.watchLiveness(pool, worker);
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

    // Leaving with the workers running: this one too (recorded as starting; the next
    // supervisor adopts it if it answers).
    if (this.leaving) throw new StartFailure(worker);
    const reason = this.shuttingDown
      ? 'the supervisor is shutting down'
      : outcome === 'timeout'
        ? `it did not answer GET ${config.healthCheck.path} on port ${port} within ${config.healthCheck.timeoutSeconds}s`
        : `it exited during start (${describeExit({ code: worker.exitCode, signal: worker.exitSignal as NodeJS.Signals | null })})`;
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
    // Another process took the port between our check and the worker's listen (a client
    // connection's ephemeral port, say): nothing is wrong with the release, so try the next
    // generation on the next free port, twice at most.
    if (!this.shuttingDown && outcome !== 'timeout' && portRetries < MAX_PORT_RETRIES && /EADDRINUSE/.test(output)) {
      this.record({
        type: 'worker.failed',
        actor,
        pool: pool.name,
        worker: worker.id,
        message: `${worker.id} lost port ${port} to another process (EADDRINUSE); trying the next generation on another port`,
        data: { port, retry: portRetries + 1 },
      });
      return this.startWorker(pool, actor, onReady, portRetries + 1);
    }
    throw new StartFailure(worker);
  }

  // ---- process exits, crashes and replacement -----------------------------------------------

  private onExit(pool: Pool, worker: Worker, info: ExitInfo): void {
    if (this.leaving) return;
    const { code, signal } = info;
    worker.exitCode = code;
    worker.exitSignal = signal;
    this.clearDrainTimer(worker);
    if (worker.state === 'starting') return; // startWorker reports a failed start itself
    if (worker.state === 'stopping' && worker.health === 'unhealthy' && worker.lastError !== null) {
      // Stopped because it hung: its end was not wanted, so it shows as crashed, with why.
      worker.transition('crashed');
      this.record({
        type: 'worker.crashed',
        actor: SUPERVISOR,
        pool: pool.name,
        worker: worker.id,
        message: `${worker.id} ended after it was stopped for not answering its health check (${describeExit(info)})`,
        data: { code, signal, reason: 'unhealthy' },
      });
      return;
    }
    if (worker.state === 'stopping') {
      worker.transition('stopped');
      this.record({
        type: 'worker.stopped',
        actor: SUPERVISOR,
        pool: pool.name,
        worker: worker.id,
        message: `${worker.id} stopped (${describeExit(info)})`,
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
    worker.lastError = `${worker.id} exited unexpectedly (${describeExit(info)}) after ${seconds(uptime)}.${output ? ` Its last output:\n${output}` : ''}`;
    this.record({
      type: 'worker.crashed',
      actor: SUPERVISOR,
      pool: pool.name,
      worker: worker.id,
      message: `${worker.id} crashed (${describeExit(info)}) after ${seconds(uptime)}${lost > 0 ? `; ${lost} session(s) lost` : ''}`,
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
    if (maxSeconds !== null) this.armDrainTimer(pool, worker, maxSeconds);
    this.scheduleDrainCheck(worker);
  }

  /** The maximum drain time, counted from the detach: a timer, and its deadline for workers.list. */
  private armDrainTimer(pool: Pool, worker: Worker, maxSeconds: number): void {
    this.clearDrainTimer(worker);
    const deadline = (worker.detachedAt?.getTime() ?? Date.now()) + maxSeconds * 1000;
    worker.drainDeadline = new Date(deadline);
    worker.drainTimer = setTimeout(() => this.endDrain(pool, worker), Math.max(0, deadline - Date.now()));
    worker.drainTimer.unref();
  }

  /** The maximum drain time ran out: cut what is left and stop the worker. */
  private endDrain(pool: Pool, worker: Worker): void {
    worker.drainTimer = null;
    worker.drainDeadline = null;
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

  // ---- liveness ------------------------------------------------------------------------------

  /**
   * Probes a running (started or detached) worker's health path every `healthCheck.everySeconds`,
   * one GET at a time, on a timer of its own: never on the proxy's path. After
   * `failuresBeforeUnhealthy` failures in a row the worker is `unhealthy` (event
   * `worker.unhealthy`); an attached one is then stopped and replaced like a crash. A detached
   * one is only shown (its drain, or the maximum drain time, ends it); it is `ok` again
   * (`worker.healthy`) as soon as it answers.
   */
  private watchLiveness(pool: Pool, worker: Worker): void {
    this.clearLiveness(worker);
    worker.health = 'ok';
    worker.healthFailures = 0;
    const next = (): void => {
      const everyMs = pool.config.healthCheck.everySeconds * 1000;
      worker.livenessTimer = setTimeout(() => void check(), everyMs);
      worker.livenessTimer.unref();
    };
    const check = async (): Promise<void> => {
      worker.livenessTimer = null;
      if (this.shuttingDown || !isRoutable(worker.state)) return;
      const { path, timeoutSeconds, everySeconds, failuresBeforeUnhealthy } = pool.config.healthCheck;
      // As long as the interval (at least 0.5 s, at most 5 s or the start timeout): a probe never overlaps the next.
      const timeoutMs = Math.min(timeoutSeconds * 1000, 5_000, Math.max(500, everySeconds * 1000));
      const ok = await probe(worker.port, path, timeoutMs);
      if (this.shuttingDown || !isRoutable(worker.state)) return;
      if (ok) {
        worker.healthFailures = 0;
        if (worker.health === 'unhealthy') {
          worker.health = 'ok';
          this.record({
            type: 'worker.healthy',
            actor: SUPERVISOR,
            pool: pool.name,
            worker: worker.id,
            message: `${worker.id} answers GET ${path} again`,
          });
        }
        worker.health = 'ok';
        return next();
      }
      worker.healthFailures++;
      if (worker.healthFailures >= failuresBeforeUnhealthy) {
        if (worker.health !== 'unhealthy') {
          worker.health = 'unhealthy';
          this.record({
            type: 'worker.unhealthy',
            actor: SUPERVISOR,
            pool: pool.name,
            worker: worker.id,
            message:
              `${worker.id} did not answer GET ${path} on port ${worker.port} ${worker.healthFailures} time(s) in a row (every ${everySeconds}s, ${seconds(timeoutMs)} each)` +
              (worker.state === 'started' ? '; it is stopped and replaced' : '; it is detached, so it is left to its drain'),
            data: { failures: worker.healthFailures, port: worker.port, path, state: worker.state, sessions: worker.sessions },
          });
        }
        if (worker.state === 'started') return this.replaceUnhealthy(pool, worker);
      }
      next();
    };
    next();
  }

  /** An attached worker that hangs: like a crash, its sessions are lost and a successor starts with back-off. */
  private replaceUnhealthy(pool: Pool, worker: Worker): void {
    const uptime = worker.uptimeMs();
    const lost = pool.sessions.unbindOwner(worker);
    pool.sessionsLost += lost;
    const { path, failuresBeforeUnhealthy } = pool.config.healthCheck;
    worker.lastError = `${worker.id} stopped answering GET ${path} on port ${worker.port} (${failuresBeforeUnhealthy} failed health checks in a row) after ${seconds(uptime)}; it was stopped (SIGTERM, SIGKILL after ${pool.config.stop.graceSeconds}s) and replaced.`;
    if (lost > 0) {
      this.record({
        type: 'sessions.lost',
        actor: SUPERVISOR,
        pool: pool.name,
        worker: worker.id,
        message: `${lost} session(s) of ${worker.id} were lost: it stopped answering its health check`,
        data: { count: lost, reason: 'unhealthy' },
      });
    }
    void this.stopWorker(pool, worker, 'unhealthy: it does not answer its health check');
    this.scheduleReplacement(pool, uptime);
  }

  private clearLiveness(worker: Worker): void {
    if (worker.livenessTimer !== null) clearTimeout(worker.livenessTimer);
    worker.livenessTimer = null;
  }

  private clearDrainTimer(worker: Worker): void {
    if (worker.drainTimer !== null) clearTimeout(worker.drainTimer);
    worker.drainTimer = null;
    worker.drainDeadline = null;
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
    const notes: string[] = (next.warnings ?? []).map(formatConfigWarning);
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
      if (config.routeCookie !== pool.config.routeCookie) {
        notes.push(`${config.name}: a new routeCookie takes a supervisor restart; still using ${pool.config.routeCookie ?? 'none'}`);
        config.routeCookie = pool.config.routeCookie;
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

  /**
   * A pool's session table is full (pools[].maxSessions): once per crossing, an event and a
   * warning on stderr. Called inside a bind on the request path, so the I/O waits a tick.
   */
  private sessionLimitReached(pool: Pool, info: SessionLimitInfo): void {
    setImmediate(() => {
      const message =
        `${pool.name} holds its maximum of ${info.maxSessions} sessions (pools[].maxSessions): new sessions now take the place of ` +
        'the least recently used ones (none with a request or WebSocket under way, none on a detached worker), or go untracked';
      process.stderr.write(`handover: warning: ${message}\n`);
      this.record({ type: 'sessions.limit', actor: SUPERVISOR, pool: pool.name, message, data: { ...info } });
    });
  }

  /**
   * Something unexpected in a pool's proxy: a fault its guard caught (it cost one connection;
   * reported once per kind), or an error from a callback. Logged with the stack and recorded.
   */
  readonly onProxyError = (pool: string, error: unknown): void => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`handover: proxy of pool ${pool}: ${error instanceof Error ? (error.stack ?? message) : message}\n`);
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.stack : undefined;
    this.record({ type: 'proxy.fault', actor: SUPERVISOR, pool, message, data: cause === undefined ? null : { stack: cause } });
  };

  private record(event: NewEvent): void {
    this.events.record(event);
  }

  private pruneEnded(pool: Pool): void {
    const ended = pool.workers.filter((w) => isTerminal(w.state));
    for (const worker of ended.slice(0, Math.max(0, ended.length - KEEP_ENDED_WORKERS))) {
      pool.workers.splice(pool.workers.indexOf(worker), 1);
      this.store?.deleteWorker(worker.id);
      this.removeLogs(worker.id);
    }
  }
}

/**
 * Re-adopted workers are taken over in the order their health checks answer; the table stays in
 * generation order (listings, `reattach` and pruning rely on it).
 */
function addInGenerationOrder(workers: Worker[], worker: Worker): void {
  const at = workers.findIndex((other) => other.generation > worker.generation);
  if (at === -1) workers.push(worker);
  else workers.splice(at, 0, worker);
}

/**
 * Workers are the user's application: they must not learn the control token, the console's key
 * and password or any other Handover setting, so every HANDOVER_* variable is dropped (a new
 * secret is covered without a list to keep up). Handover sets HANDOVER_WORKER, _POOL and
 * _REVISION afresh for each worker, and a pool's own `env` is applied after this.
 */
function withoutHandoverVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = {} as NodeJS.ProcessEnv;
  for (const [key, value] of Object.entries(env)) if (!key.startsWith('HANDOVER_')) copy[key] = value;
  return copy;
}

/** How long restored bindings of a detached worker may stay unconfirmed: drain.unconfirmedSeconds, at most the idle timeout; null: no limit. */
function unconfirmedWindowMs(config: PoolConfig): number | null {
  const seconds = config.drain.unconfirmedSeconds;
  return seconds === null ? null : Math.min(seconds, config.idleTimeoutSeconds) * 1000;
}

function describeExit({ code, signal, unknown }: ExitInfo): string {
  if (unknown) return 'exit status unknown: a re-adopted process is not our child';
  if (signal !== null) return `signal ${signal}`;
  if (code !== null) return `exit code ${code}`;
  return 'it could not be run';
}

function isoOrNull(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}

function parseDate(text: string | null): Date | null {
  return text === null ? null : new Date(text);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}
