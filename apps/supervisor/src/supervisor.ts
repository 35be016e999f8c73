import { join } from 'node:path';
import { type HandoverConfig, formatConfigWarning, loadConfig } from '@handover/config';
import {
  ControlError,
  type SessionReportReceiver,
  type SupervisorControl,
  noSuchPool,
  noSuchWorker,
  requireDetachedToStop,
  requireState,
} from '@handover/control-api/server';
import {
  type DetachAndSyncResult,
  type DrainInfo,
  type EventFilter,
  type HandoverEvent,
  type LogLine,
  type PoolInfo,
  type PoolPlan,
  type SessionSample,
  type SupervisorStopResult,
  type SyncPlan,
  type SyncResult,
  type NodeStatus,
  type WorkerInfo,
  type WorkerMarker,
  isAlive,
} from '@handover/process-table';
import type { Route, Upstream } from '@handover/proxy';
import { applyConfig, configNotes } from './config-reload';
import { ConfigSource } from './config-watch';
import { drainInfo } from './drain-info';
import { isStale, poolDrift, toPoolDrift } from './drift';
import { clearRestart, scheduleReplacement } from './crash-replacement';
import { detachWorker, scheduleDrainCheck, stopDrainNow } from './drain';
import type { EventLog, NewEvent } from './event-log';
import * as events from './events';
import { busyError, exclusive } from './exclusive';
import { Housekeeping } from './housekeeping';
import { CRASH_LOOP_AFTER, type KeeperRestart } from './keeper';
import { NodeDrain, nodeHealth } from './node-drain';
import { Pool } from './pool';
import { readopt } from './readoption';
import { reportProxyFault, reportSessionLimit } from './reports';
import { Runtime } from './runtime';
import { type SessionReportChannel, sessionReportReceiver } from './session-report-channel';
import type { StateStore } from './state-store';
import type { Worker } from './worker';
import { StartFailure, fillPool, startWorker, startWorkersTogether, withoutHandoverVariables } from './worker-start';
import { stopWorker } from './worker-stop';

const { SUPERVISOR, workerEvents } = events;

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
  /** The side channel for session reports (session-report-channel.ts); none without a control API. */
  reportChannel?: SessionReportChannel;
  /** How often the configuration file is re-read besides its watch (config-watch.ts); 0: never. Default 3 s. */
  configCheckIntervalMs?: number;
}

/**
 * The operations on the process table: start, detach, detach-and-sync, reattach, sync and stop.
 * Each reads as a short story; the parts it calls live in files named for them (worker-start,
 * worker-stop, drain, liveness, crash-replacement, readoption, config-reload). It owns no
 * sockets: the proxy reads `routeOf(pool)` and reports back through `onProxyRelease`; the
 * control API calls the SupervisorControl methods. (About 350 lines: the whole control surface,
 * one short method per operation, is meant to be read in one place.)
 */
export class Supervisor implements SupervisorControl {
  private readonly rt: Runtime;
  private readonly events: EventLog;
  private readonly reloadConfig: () => Promise<HandoverConfig>;
  /** The configuration file as it is now (the last good one) and why it does not parse, if so. */
  private readonly configSource: ConfigSource;
  private readonly housekeeping: Housekeeping;
  private readonly node: NodeDrain;
  /** The configuration's warnings (e.g. a basePort in the ephemeral port range), recorded at start. */
  private readonly configWarnings: string[];
  private readonly keeperRestart: KeeperRestart | undefined;
  private stopHandler: ((keepWorkers: boolean) => void) | null = null;
  private stopRequested = false;

  constructor(options: SupervisorOptions) {
    this.events = options.events;
    const store = options.store ?? null;
    this.rt = new Runtime(options.events, store, join(options.config.dataDir, 'logs'), withoutHandoverVariables(options.env ?? process.env));
    this.configWarnings = (options.config.warnings ?? []).map(formatConfigWarning);
    this.keeperRestart = options.keeperRestart;
    this.rt.reportChannel = options.reportChannel ?? null;
    const reload = options.reloadConfig ?? (() => loadConfig({ path: options.config.configPath, env: options.env }));
    this.configSource = new ConfigSource(options.config, reload, options.config.configPath, options.configCheckIntervalMs ?? 3000);
    this.reloadConfig = () => this.configSource.read();
    this.node = new NodeDrain(this.rt);
    this.housekeeping = new Housekeeping(this.rt, options.sweepIntervalMs ?? 1000, options.sampleIntervalMs ?? 2000);
    for (const config of options.config.pools) {
      const pool = new Pool({
        config,
        rows: this.rt.table.addPool(config.name),
        journal: store,
        routeKey: options.routeKey,
        onDrainProgress: (worker) => scheduleDrainCheck(this.rt, worker),
        onLimit: (limited, info) => reportSessionLimit(this.rt, limited.name, info),
      });
      this.rt.pools.set(config.name, pool);
    }
  }

  /**
   * Re-adopts the workers a previous supervisor left running, then starts workers where a pool
   * has fewer attached than wanted; a pool that fails to start retries with back-off.
   */
  async start(): Promise<void> {
    this.record(events.supervisorStarted(this.configWarnings, this.keeperRestart));
    if (this.keeperRestart !== undefined && this.keeperRestart.restartsInRow >= CRASH_LOOP_AFTER) {
      this.record(events.supervisorCrashLoop(this.keeperRestart));
    }
    this.housekeeping.restore();
    await readopt(this.rt);
    this.node.restore();
    this.rt.store?.startFlushing();
    this.housekeeping.start();
    this.configSource.start();
    await Promise.all(
      [...this.rt.pools.values()].map(async (pool) => {
        try {
          await fillPool(this.rt, pool, SUPERVISOR);
        } catch (error) {
          if (!(error instanceof StartFailure)) throw error;
          scheduleReplacement(this.rt, pool, 0);
        }
      }),
    );
  }

  routeOf(pool: string): Route {
    const found = this.rt.pools.get(pool);
    if (found === undefined) throw new Error(`no pool named ${pool}`);
    return found.route;
  }

  /** A worker's reports by the side channel (`POST /session-reports/<id>` on the control port). */
  sessionReports(): SessionReportReceiver {
    return sessionReportReceiver(this.rt);
  }

  /** The proxy lowered a draining worker's in-flight or WebSocket count. */
  readonly onProxyRelease = (upstream: Upstream): void => scheduleDrainCheck(this.rt, upstream as Worker);

  // ---- SupervisorControl -------------------------------------------------------------------

  listWorkers(): WorkerInfo[] {
    return this.rt.table.rows().map((worker) => worker.info());
  }

  listPools(): PoolInfo[] {
    return [...this.rt.pools.values()].map((pool) => {
      const file = this.configSource.pool(pool.name) ?? pool.config;
      const drift = poolDrift(pool, file);
      return pool.info(file, this.configSource.error, toPoolDrift(file, drift), drift.runningRevisions);
    });
  }

  async detach(id: string, actor: string): Promise<WorkerInfo> {
    const { pool, worker } = this.find(id);
    requireState(worker, 'started', 'detach');
    if (pool.rows.startedNewestFirst(worker).length === 0) {
      throw new ControlError(
        'PRECONDITION_FAILED',
        `${id} is the only worker taking new sessions in pool ${pool.name}; detaching it would leave new visitors with nothing. ` +
          `Use detach-and-sync (\`handover detach ${id} --sync\`) to start a successor first.`,
      );
    }
    this.record(events.workerAction(actor, pool.name, id, `detach ${id}`));
    detachWorker(this.rt, pool, worker, actor);
    return worker.info();
  }

  /**
   * The upgrade: re-read the configuration, start a worker on the new revision, and in the tick
   * it is ready detach the old one, which then drains (drain.ts) and stops by itself.
   */
  async detachAndSync(id: string, actor: string): Promise<DetachAndSyncResult> {
    const { pool, worker } = this.find(id);
    requireState(worker, 'started', 'detach and sync');
    return exclusive(pool, `detach-and-sync of ${id} by ${actor}`, async () => {
      this.record(events.workerAction(actor, pool.name, id, `detach and sync ${id}`));
      await applyConfig(this.rt, this.reloadConfig, actor);
      // A pool of N instances gets N successors; new sessions switch to them all at once, in the
      // tick the last is ready, and every worker that took new sessions until then is detached.
      const detached: Worker[] = [];
      const detachOld = (successors: readonly Worker[]) => {
        for (const old of pool.workers.filter((w) => w.state === 'started' && !successors.includes(w))) {
          detachWorker(this.rt, pool, old, actor);
          detached.push(old);
        }
      };
      try {
        const successors = await startWorkersTogether(this.rt, pool, actor, pool.config.instances, detachOld);
        return {
          detached: worker.info(),
          started: (successors[0] as Worker).info(),
          allDetached: detached.map((w) => w.info()),
          allStarted: successors.map((w) => w.info()),
        };
      } catch (error) {
        if (!(error instanceof StartFailure)) throw error;
        const failed = error.worker;
        throw new ControlError(
          'PRECONDITION_FAILED',
          `${failed.id} (revision ${failed.revision}) failed to start, so ${id} stays attached and keeps serving. ${error.message}`,
        );
      }
    });
  }

  /** The rollback: a detached worker takes new sessions again, the newer ones step aside. */
  async reattach(id: string, actor: string): Promise<WorkerInfo> {
    const { pool, worker } = this.find(id);
    requireState(worker, 'detached', 'reattach');
    return exclusive(pool, `reattach of ${id} by ${actor}`, async () => {
      this.record(events.workerAction(actor, pool.name, id, `reattach ${id}`));
      worker.clearDrainTimer();
      this.rt.table.transition(worker, 'started');
      this.record(workerEvents.reattached(actor, worker));
      for (const newer of pool.rows.startedNewestFirst(worker)) {
        if (pool.rows.attachedCount() <= pool.config.instances) break;
        detachWorker(this.rt, pool, newer, actor);
      }
      return worker.info();
    });
  }

  /** Re-reads the configuration and starts workers where a pool has fewer than it wants. */
  async sync(poolName: string | undefined, actor: string): Promise<SyncResult> {
    const targets = poolName === undefined ? [...this.rt.pools.values()] : [this.findPool(poolName)];
    const busy = targets.find((pool) => pool.busy !== null);
    if (busy) throw busyError(busy);
    this.record(events.syncAction(actor, poolName));
    await applyConfig(this.rt, this.reloadConfig, actor);
    const result: SyncResult = { pools: await Promise.all(targets.map((pool) => this.syncPool(pool, actor))) };
    result.pools.sort((a, b) => a.pool.localeCompare(b.pool));
    return result;
  }

  private async syncPool(pool: Pool, actor: string): Promise<SyncResult['pools'][number]> {
    if (pool.busy !== null) return { pool: pool.name, started: [], detached: [], error: `skipped: ${pool.busy} is in progress` };
    const started: Worker[] = [];
    const detached: Worker[] = [];
    let error: string | null = null;
    await exclusive(pool, `sync of ${pool.name} by ${actor}`, async () => {
      // A sync is the operator's "try again": it lifts a crash loop stop.
      clearRestart(pool);
      pool.crashes.reset();
      pool.status = 'ok';
      pool.lastError = null;
      try {
        // Workers on another revision or configuration than the file (an edit, a rollback by
        // reattach) are replaced as by a detach-and-sync: their successors start together and
        // they are detached in the tick the last one is ready (new sessions never see a mix).
        const stale = pool.workers.filter((worker) => worker.state === 'started' && isStale(worker, pool.config));
        if (stale.length > 0 && !this.rt.stopping) {
          const detachStale = () => {
            for (const old of stale) {
              if (old.state !== 'started') continue;
              detachWorker(this.rt, pool, old, actor);
              detached.push(old);
            }
          };
          started.push(...(await startWorkersTogether(this.rt, pool, actor, stale.length, detachStale)));
        }
        await fillPool(this.rt, pool, actor, started);
      } catch (failure) {
        if (!(failure instanceof StartFailure)) throw failure;
        error = pool.lastError = failure.message;
      }
    });
    const ids = started.map((worker) => worker.id);
    const detachedIds = detached.map((worker) => worker.id);
    this.record(events.poolSynced(actor, pool.name, pool.config.revision, pool.config.instances, ids, error, detachedIds));
    return { pool: pool.name, started: started.map((worker) => worker.info()), detached: detached.map((worker) => worker.info()), error };
  }

  /** What `sync` would do now: the file re-read, nothing started or detached. */
  async planSync(poolName: string | undefined): Promise<SyncPlan> {
    const targets = poolName === undefined ? [...this.rt.pools.values()] : [this.findPool(poolName)];
    let file: HandoverConfig;
    try {
      file = await this.reloadConfig();
    } catch {
      return { configError: this.configSource.error ?? 'the configuration could not be read', notes: [], pools: [] };
    }
    const pools = targets.map((pool): PoolPlan => {
      const config = file.pools.find((p) => p.name === pool.name) ?? pool.config;
      const drift = poolDrift(pool, config);
      const detach = drift.stale.map((worker) => worker.id);
      const start = detach.length + drift.missing;
      return {
        pool: pool.name,
        revision: config.revision,
        start,
        detach,
        changes: drift.changes,
        busy: pool.busy,
        liftsCrashLoop: pool.status !== 'ok',
        upToDate: start === 0 && detach.length === 0,
      };
    });
    pools.sort((a, b) => a.pool.localeCompare(b.pool));
    return { configError: null, notes: configNotes(this.rt, file), pools };
  }

  drainInfo(id: string, limit: number): DrainInfo {
    const { pool, worker } = this.find(id);
    return drainInfo(pool, worker, limit);
  }

  /** Ends a drain now: what the detached worker still holds is lost, and it is stopped. */
  nodeStatus(): NodeStatus {
    return this.node.status();
  }

  drainNode(actor: string): NodeStatus {
    return this.node.drain(actor);
  }

  readyNode(actor: string): NodeStatus {
    return this.node.ready(actor);
  }

  /** What `/node-health` on the control port answers the front (no token: it says nothing secret). */
  nodeHealth(): ReturnType<typeof nodeHealth> {
    return nodeHealth(this.node.status());
  }

  async stopNow(id: string, actor: string): Promise<WorkerInfo> {
    const { pool, worker } = this.find(id);
    requireDetachedToStop(worker);
    this.record(events.workerAction(actor, pool.name, id, `stop ${id} now`));
    await stopDrainNow(this.rt, pool, worker, actor);
    return worker.info();
  }

  logs(id: string, lines: number): LogLine[] {
    return this.find(id).worker.logs.tail(lines);
  }

  listEvents(options: { afterId?: number; limit: number; filter?: EventFilter }): HandoverEvent[] {
    return this.events.list(options);
  }

  onEvent(listener: (event: HandoverEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  sessionHistory(options: { minutes?: number } = {}): SessionSample[] {
    return this.housekeeping.history.list(Date.now() - (options.minutes ?? 10) * 60_000);
  }

  workerMarkers(options: { minutes?: number } = {}): WorkerMarker[] {
    return this.housekeeping.markers(Date.now() - (options.minutes ?? 10) * 60_000);
  }

  async stopSupervisor(options: { keepWorkers: boolean }, actor: string): Promise<SupervisorStopResult> {
    const handler = this.stopHandler;
    if (handler === null) {
      throw new ControlError('PRECONDITION_FAILED', 'this supervisor cannot be stopped through the control API (it is embedded); stop its process instead');
    }
    if (this.stopRequested || this.rt.stopping) throw new ControlError('CONFLICT', 'the supervisor is already stopping');
    this.stopRequested = true;
    const workers = this.rt.table.aliveIds();
    this.record(events.stopAction(actor, options.keepWorkers, workers));
    // After the answer has gone out.
    setImmediate(() => handler(options.keepWorkers));
    return { keepWorkers: options.keepWorkers, workers, pid: process.pid };
  }

  /** What a `supervisor.stop` request does (the launcher stops the listeners and exits). */
  setStopHandler(handler: (keepWorkers: boolean) => void): void {
    this.stopHandler = handler;
  }

  // ---- stopping ----------------------------------------------------------------------------

  /** Stops every worker (SIGTERM, SIGKILL after each pool's grace) and every timer. */
  async shutdown(reason = 'supervisor shutting down'): Promise<void> {
    if (!this.beginStopping(reason)) return;
    const stops: Promise<void>[] = [];
    for (const pool of this.rt.pools.values()) {
      for (const worker of pool.workers) if (isAlive(worker.state)) stops.push(stopWorker(this.rt, pool, worker, reason));
    }
    await Promise.all(stops);
    this.housekeeping.sampleNow();
    this.record(events.supervisorStopped());
  }

  /**
   * Leaves without stopping any worker: timers stop, the workers' processes are let go of (no
   * signal), and the store keeps them recorded in their current state with their sessions, so
   * the next start re-adopts them (and resumes their drains). Returns the ids left running.
   */
  async leave(reason = 'supervisor leaving; workers keep running'): Promise<string[]> {
    if (!this.beginStopping(reason, true)) return [];
    const left = this.rt.table.rows().filter((worker) => isAlive(worker.state) && worker.process !== null);
    await Promise.all(left.map((worker) => worker.process!.release()));
    await this.rt.store?.drain();
    const ids = left.map((worker) => worker.id);
    this.record(events.supervisorLeft(ids));
    return ids;
  }

  /** Last resort on an unexpected supervisor exit: SIGKILL every worker group right now. */
  killAll(): void {
    if (this.rt.leaving) return;
    for (const worker of this.rt.table.rows()) worker.process?.kill();
  }

  /** Stops every timer and every pending restart; false when already stopping. */
  private beginStopping(reason: string, leaving = false): boolean {
    if (this.rt.stopping) return false;
    this.rt.stopping = true;
    this.rt.leaving = leaving;
    this.record(events.supervisorStopping(reason));
    this.housekeeping.stop();
    this.housekeeping.sampleNow();
    this.configSource.stop();
    this.node.stop();
    for (const timer of this.rt.reconcileTimers.values()) clearTimeout(timer);
    this.rt.reconcileTimers.clear();
    for (const pool of this.rt.pools.values()) clearRestart(pool);
    for (const worker of this.rt.table.rows()) worker.clearTimers();
    return true;
  }

  /** Something unexpected in a pool's proxy (see reports.ts). */
  readonly onProxyError = (pool: string, error: unknown): void => reportProxyFault(this.rt, pool, error);

  // ---- helpers -------------------------------------------------------------------------------

  private record(event: NewEvent): void {
    this.events.record(event);
  }

  private find(id: string): { pool: Pool; worker: Worker } {
    const worker = this.rt.table.find(id);
    const pool = worker === undefined ? undefined : this.rt.pools.get(worker.pool);
    if (pool === undefined || worker === undefined) {
      throw noSuchWorker(id, this.rt.table.aliveIds());
    }
    return { pool, worker };
  }

  private findPool(name: string): Pool {
    const pool = this.rt.pools.get(name);
    if (pool === undefined) throw noSuchPool(name, [...this.rt.pools.keys()]);
    return pool;
  }
}
