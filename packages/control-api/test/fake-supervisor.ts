/**
 * An in-memory `SupervisorControl` for tests of the control API, the CLI and the console:
 * no processes, no sockets, a real event emitter. Exported as `@handover/control-api/testing`.
 *
 * It answers as the real supervisor does — the same refusals with the same codes and messages,
 * the same events in the same order — which apps/supervisor/test/control-contract.test.ts checks
 * against both. What it does not model: processes and draining (a detached worker stays
 * detached whatever its sessions), busy pools (CONFLICT). The configuration file is the pool's
 * `revision` (set it to "edit the file"); `configError` set makes the file unreadable.
 */
import { EventEmitter } from 'node:events';
import { isAlive } from '@handover/process-table';
import {
  ControlError,
  type SupervisorControl,
  matchesEventFilter,
  noSuchPool,
  noSuchWorker,
  requireDetachedToStop,
  requireState,
  truncateSessionId,
} from '../src/contract';
import type {
  DetachAndSyncResult,
  DrainInfo,
  DrainSession,
  EventFilter,
  EventType,
  HandoverEvent,
  LogLine,
  NodeEventType,
  NodeStatus,
  PoolDrift,
  PoolInfo,
  PoolPlan,
  SessionSample,
  SupervisorStopResult,
  SyncPlan,
  SyncResult,
  WorkerInfo,
  WorkerMarker,
} from '@handover/process-table';

export interface FakeCall {
  method: string;
  args: unknown[];
}

const T0 = Date.parse('2030-01-02T03:04:05.000Z');
/** When the fake detaches a worker. */
const DETACHED_AT = T0 + 120_000;
/** drain.maxSeconds by default: a day. */
const DRAIN_MAX_MS = 24 * 60 * 60 * 1000;
/** The pools' idle timeout (idleTimeoutSeconds by default: 30 minutes). */
const IDLE_TIMEOUT_MS = 30 * 60 * 1000;

/** A pool as configured, before the fields the fake works out (attached, running revisions, drift). */
export type FakePool = Omit<PoolInfo, 'attached' | 'runningRevisions' | 'drift' | 'configError'>;

export function fakeWorker(id: string, patch: Partial<WorkerInfo> = {}): WorkerInfo {
  const [pool = 'web', gen = '0'] = id.split('@');
  const generation = Number(gen);
  return {
    id,
    pool,
    generation,
    state: 'started',
    attached: true,
    pid: 4000 + generation,
    port: 9000 + generation,
    revision: 'v1',
    sessions: 0,
    inFlight: 0,
    webSockets: 0,
    startedAt: new Date(T0).toISOString(),
    readyAt: new Date(T0 + 1200).toISOString(),
    detachedAt: null,
    stoppedAt: null,
    exitCode: null,
    exitSignal: null,
    lastError: null,
    memoryRss: 50 * 1024 * 1024,
    health: 'ok',
    drainDeadline: null,
    appSessions: null,
    appSessionsAt: null,
    appSessionsError: null,
    ...patch,
  };
}

/** A start that failed: the message is the worker's lastError. */
class StartFailed extends Error {
  constructor(readonly worker: WorkerInfo) {
    super(worker.lastError ?? `${worker.id} did not start`);
  }
}

export class FakeSupervisor implements SupervisorControl {
  readonly calls: FakeCall[] = [];
  readonly events: HandoverEvent[] = [];
  readonly workers = new Map<string, WorkerInfo>();
  readonly pools = new Map<string, FakePool>();
  /** Set: the configuration file does not parse (this is the loader's message); a sync refuses. */
  configError: string | null = null;
  private readonly emitter = new EventEmitter();
  /**
   * When set, the next start fails for this reason (like "it exited during start (exit code 1)"):
   * `detachAndSync` and `sync` answer as for a successor that never became ready.
   */
  failNextStart: string | null = null;
  /** While set, detachAndSync waits for it first (a node whose successor takes its time, or hangs). */
  holdDetachAndSync: Promise<void> | null = null;
  /** Throws a plain Error from listWorkers (to test INTERNAL_SERVER_ERROR). */
  breakListWorkers = false;
  /** Set by stopSupervisor: the stop that was asked for. */
  stopRequested: { keepWorkers: boolean; actor: string } | null = null;

  constructor() {
    this.emitter.setMaxListeners(0);
    this.workers.set('web@0', fakeWorker('web@0', { sessions: 3, inFlight: 1, webSockets: 2 }));
    this.workers.set(
      'web@1',
      fakeWorker('web@1', {
        state: 'detached',
        attached: false,
        revision: 'v0',
        sessions: 1,
        detachedAt: new Date(T0 + 60_000).toISOString(),
        drainDeadline: new Date(T0 + 60_000 + DRAIN_MAX_MS).toISOString(),
      }),
    );
    this.pools.set('web', {
      name: 'web',
      revision: 'v2',
      command: 'node server.js',
      sessionCookie: 'connect.sid',
      instances: 1,
      status: 'ok',
      restarts: 0,
      nextRestartAt: null,
      lastError: null,
      sessionsLost: 0,
      sessionProbe: null,
      deployFailure: null,
    });
  }

  /** As `handover start` leaves a one-instance pool: web@0 started on the pool's revision, no events. */
  static justStarted(): FakeSupervisor {
    const fake = new FakeSupervisor();
    fake.workers.clear();
    fake.workers.set('web@0', fakeWorker('web@0'));
    fake.pools.set('web', { ...fake.pools.get('web')!, revision: 'v1' });
    return fake;
  }

  /** Records an event and pushes it to every listener (like the real supervisor). */
  record(type: EventType | NodeEventType, message: string, patch: Partial<HandoverEvent> = {}): HandoverEvent {
    const event: HandoverEvent = {
      id: this.events.length + 1,
      at: new Date(T0 + this.events.length * 1000).toISOString(),
      type,
      actor: 'supervisor',
      pool: null,
      worker: null,
      message,
      data: null,
      ...patch,
    };
    this.events.push(event);
    this.emitter.emit('event', event);
    return event;
  }

  listenerCount(): number {
    return this.emitter.listenerCount('event');
  }

  private call(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
  }

  /** The workers in the real one's order: pool by pool (as configured), by generation. */
  private ordered(): WorkerInfo[] {
    const pools = [...this.pools.keys()];
    const rank = (w: WorkerInfo) => (pools.includes(w.pool) ? pools.indexOf(w.pool) : pools.length);
    return [...this.workers.values()].sort((a, b) => rank(a) - rank(b) || a.pool.localeCompare(b.pool) || a.generation - b.generation);
  }

  private find(worker: string): WorkerInfo {
    const info = this.workers.get(worker);
    if (info === undefined) {
      const running = this.ordered()
        .filter((w) => isAlive(w.state))
        .map((w) => w.id);
      throw noSuchWorker(worker, running);
    }
    return info;
  }

  private findPool(name: string): FakePool {
    const pool = this.pools.get(name);
    if (pool === undefined) throw noSuchPool(name, [...this.pools.keys()]);
    return pool;
  }

  private action(actor: string, info: WorkerInfo, what: string): void {
    this.record('action', `${actor}: ${what}`, { actor, pool: info.pool, worker: info.id });
  }

  private attachedCount(pool: string): number {
    return [...this.workers.values()].filter((w) => w.pool === pool && w.attached).length;
  }

  private nextGeneration(pool: string): number {
    let max = -1;
    for (const w of this.workers.values()) if (w.pool === pool) max = Math.max(max, w.generation);
    return max + 1;
  }

  private detachWorker(info: WorkerInfo, actor: string): WorkerInfo {
    const detachedAt = this.workers.get(info.id)?.detachedAt ?? new Date(DETACHED_AT).toISOString();
    const next: WorkerInfo = {
      ...this.workers.get(info.id)!,
      state: 'detached',
      attached: false,
      detachedAt,
      drainDeadline: new Date(Date.parse(detachedAt) + DRAIN_MAX_MS).toISOString(),
    };
    this.workers.set(info.id, next);
    this.record('worker.detached', `${info.id} detached: keeps serving its ${next.sessions} ${next.sessions === 1 ? 'session' : 'sessions'}, takes no new ones`, {
      actor,
      pool: info.pool,
      worker: info.id,
      data: { sessions: next.sessions, inFlight: next.inFlight, webSockets: next.webSockets },
    });
    return next;
  }

  /**
   * Starts the pool's next generation: `worker.starting`, then (`onReady`, then) `worker.started`;
   * or, when `failNextStart` is set, `worker.failed`, the worker left `failed` with its
   * `lastError`, and a StartFailed thrown.
   */
  private startNew(pool: string, actor: string, onReady?: () => void): WorkerInfo {
    const id = `${pool}@${this.nextGeneration(pool)}`;
    const revision = this.pools.get(pool)?.revision ?? 'v1';
    const info = fakeWorker(id, { revision, state: 'starting', readyAt: null });
    this.workers.set(id, info);
    this.record('worker.starting', `${id} starting on ${revision}`, { pool, worker: id, actor });
    const poolInfo = this.pools.get(pool);
    if (this.failNextStart !== null) {
      const reason = this.failNextStart;
      this.failNextStart = null;
      const lastError = `${id} did not start: ${reason}. It printed nothing.`;
      this.workers.set(id, { ...info, state: 'failed', attached: false, lastError });
      if (poolInfo !== undefined) poolInfo.deployFailure = { worker: id, revision, reason: lastError, at: new Date(T0 + this.events.length * 1000).toISOString() };
      this.record('worker.failed', `${id} did not start: ${reason}`, { pool, worker: id, actor, data: { output: [] } });
      throw new StartFailed(this.workers.get(id)!);
    }
    onReady?.();
    const ready = fakeWorker(id, { revision });
    this.workers.set(id, ready);
    if (poolInfo !== undefined) poolInfo.deployFailure = null;
    this.record('worker.started', `${id} ready`, { pool, worker: id, actor });
    return ready;
  }

  listWorkers(): WorkerInfo[] {
    this.call('listWorkers');
    if (this.breakListWorkers) throw new Error('boom (an unexpected bug)');
    return this.ordered();
  }

  listPools(): PoolInfo[] {
    this.call('listPools');
    return [...this.pools.values()].map((p) => this.poolInfo(p));
  }

  private poolInfo(p: FakePool): PoolInfo {
    const runningRevisions = this.runningRevisions(p.name);
    const changes = this.changes(p);
    const drift: PoolDrift | null = changes.length === 0 ? null : { configuredRevision: p.revision, runningRevisions, changes };
    return { ...p, attached: this.attachedCount(p.name), runningRevisions, drift, configError: this.configError };
  }

  private attachedOf(pool: string): WorkerInfo[] {
    return this.ordered().filter((w) => w.pool === pool && w.attached);
  }

  private runningRevisions(pool: string): string[] {
    return [...new Set(this.attachedOf(pool).map((w) => w.revision))].sort();
  }

  /** Started workers on another revision than the file's: a sync replaces them. */
  private stale(p: FakePool): WorkerInfo[] {
    return this.attachedOf(p.name).filter((w) => w.state === 'started' && w.revision !== p.revision);
  }

  /** The real one's words (apps/supervisor/src/drift.ts), for what the fake models: revision and instances. */
  private changes(p: FakePool): string[] {
    const changes: string[] = [];
    const stale = this.stale(p);
    for (const revision of [...new Set(stale.map((w) => w.revision))].sort()) {
      const ids = stale.filter((w) => w.revision === revision).map((w) => w.id);
      changes.push(`revision ${revision} → ${p.revision} (${ids.join(', ')} ${ids.length === 1 ? 'runs' : 'run'} ${revision})`);
    }
    const attached = this.attachedCount(p.name);
    if (attached < p.instances) changes.push(`${p.instances - attached} more attached worker${p.instances - attached === 1 ? '' : 's'} wanted (instances ${p.instances}, ${attached} attached)`);
    return changes;
  }

  /** As the real one refuses a file that does not parse: the action, then `config.rejected`. */
  private refuseBrokenConfig(actor: string): void {
    if (this.configError === null) return;
    this.record('config.rejected', `configuration not applied: ${this.configError}`, { actor });
    throw new ControlError('PRECONDITION_FAILED', `The configuration was not applied and nothing changed: ${this.configError}`);
  }

  async detach(worker: string, actor: string): Promise<WorkerInfo> {
    this.call('detach', worker, actor);
    const info = this.find(worker);
    requireState(info, 'started', 'detach');
    if (![...this.workers.values()].some((w) => w.pool === info.pool && w.id !== worker && w.state === 'started')) {
      throw new ControlError(
        'PRECONDITION_FAILED',
        `${worker} is the only worker taking new sessions in pool ${info.pool}; detaching it would leave new visitors with nothing. ` +
          `Use detach-and-sync (\`handover detach ${worker} --sync\`) to start a successor first.`,
      );
    }
    this.action(actor, info, `detach ${worker}`);
    return this.detachWorker(info, actor);
  }

  async detachAndSync(worker: string, actor: string): Promise<DetachAndSyncResult> {
    this.call('detachAndSync', worker, actor);
    if (this.holdDetachAndSync !== null) await this.holdDetachAndSync;
    const info = this.find(worker);
    requireState(info, 'started', 'detach and sync');
    this.action(actor, info, `detach and sync ${worker}`);
    this.refuseBrokenConfig(actor);
    let started: WorkerInfo;
    try {
      // Detached in the tick the successor is ready, before it is announced.
      started = this.startNew(info.pool, actor, () => this.detachWorker(info, actor));
    } catch (error) {
      if (!(error instanceof StartFailed)) throw error;
      throw new ControlError(
        'PRECONDITION_FAILED',
        `${error.worker.id} (revision ${error.worker.revision}) failed to start, so ${worker} stays attached and keeps serving. ${error.message}`,
      );
    }
    // The fake runs one instance per pool: one successor, one worker detached.
    const detached = this.workers.get(worker)!;
    return { detached, started, allDetached: [detached], allStarted: [started] };
  }

  async reattach(worker: string, actor: string): Promise<WorkerInfo> {
    this.call('reattach', worker, actor);
    const info = this.find(worker);
    requireState(info, 'detached', 'reattach');
    this.action(actor, info, `reattach ${worker}`);
    const next: WorkerInfo = { ...info, state: 'started', attached: true, detachedAt: null, drainDeadline: null };
    this.workers.set(worker, next);
    this.record('worker.reattached', `${worker} reattached by ${actor}: takes new sessions again`, { actor, pool: info.pool, worker });
    // Rolling back: the newest started workers step aside until the pool has what it wants.
    const instances = this.pools.get(info.pool)?.instances ?? 1;
    const newerFirst = this.ordered()
      .filter((w) => w.pool === info.pool && w.id !== worker && w.state === 'started')
      .reverse();
    for (const other of newerFirst) {
      if (this.attachedCount(info.pool) <= instances) break;
      this.detachWorker(other, actor);
    }
    return next;
  }

  async sync(pool: string | undefined, actor: string): Promise<SyncResult> {
    this.call('sync', pool, actor);
    const targets = pool === undefined ? [...this.pools.values()] : [this.findPool(pool)];
    this.record('action', `${actor}: sync ${pool ?? 'all pools'}`, { actor, pool: pool ?? null });
    this.refuseBrokenConfig(actor);
    const result: SyncResult = { pools: [] };
    for (const p of targets) {
      const entry = { pool: p.name, started: [] as WorkerInfo[], detached: [] as WorkerInfo[], error: null as string | null };
      result.pools.push(entry);
      p.status = 'ok';
      p.lastError = null;
      try {
        // Workers on another revision first, each detached in the tick its successor is ready.
        for (const old of this.stale(p)) {
          entry.started.push(this.startNew(p.name, actor, () => entry.detached.push(this.detachWorker(old, actor))));
        }
        while (this.attachedCount(p.name) < p.instances) entry.started.push(this.startNew(p.name, actor));
      } catch (error) {
        if (!(error instanceof StartFailed)) throw error;
        entry.error = p.lastError = error.message;
      }
      const started = entry.started.map((w) => w.id);
      const detached = entry.detached.map((w) => w.id);
      this.record(
        'pool.synced',
        entry.error !== null
          ? `sync of ${p.name} failed: ${entry.error.split('\n')[0]}`
          : started.length === 0
            ? `${p.name} is up to date: ${p.instances} attached ${p.instances === 1 ? 'worker' : 'workers'} on revision ${p.revision}; nothing to start`
            : `sync of ${p.name} started ${started.join(', ')} on revision ${p.revision}` + (detached.length > 0 ? `; detached ${detached.join(', ')}` : ''),
        { actor, pool: p.name, data: { started, detached, error: entry.error } },
      );
    }
    result.pools.sort((a, b) => a.pool.localeCompare(b.pool));
    return result;
  }

  logs(worker: string, lines: number): LogLine[] {
    this.call('logs', worker, lines);
    this.find(worker);
    const all: LogLine[] = Array.from({ length: 10 }, (_, i) => ({
      at: new Date(T0 + i * 1000).toISOString(),
      stream: i % 4 === 3 ? 'stderr' : 'stdout',
      text: `${worker} line ${i + 1}`,
    }));
    return all.slice(-lines);
  }

  listEvents(options: { afterId?: number; limit: number; filter?: EventFilter }): HandoverEvent[] {
    this.call('listEvents', options);
    const matching = this.events.filter((e) => matchesEventFilter(e, options.filter));
    if (options.afterId === undefined) return matching.slice(-options.limit);
    const afterId = options.afterId;
    return matching.filter((e) => e.id > afterId).slice(0, options.limit);
  }

  onEvent(listener: (event: HandoverEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  /** Three samples two seconds apart, ending with the current counts (whatever the minutes). */
  sessionHistory(options: { minutes?: number } = {}): SessionSample[] {
    this.call('sessionHistory', options);
    const now = Object.fromEntries([...this.workers.values()].map((w) => [w.id, w.sessions]));
    return [0, 1, 2].map((i) => ({
      at: new Date(T0 + i * 2000).toISOString(),
      sessions: Object.fromEntries(Object.entries(now).map(([id, count]) => [id, Math.max(0, count + 2 - i)])),
    }));
  }

  workerMarkers(options: { minutes?: number } = {}): WorkerMarker[] {
    this.call('workerMarkers', options);
    return this.ordered().map((w) => ({
      worker: w.id,
      pool: w.pool,
      revision: w.revision,
      state: w.state,
      startedAt: w.startedAt,
      readyAt: w.readyAt,
      detachedAt: w.detachedAt,
      stoppedAt: w.stoppedAt,
    }));
  }

  async planSync(pool: string | undefined): Promise<SyncPlan> {
    this.call('planSync', pool);
    const targets = pool === undefined ? [...this.pools.values()] : [this.findPool(pool)];
    if (this.configError !== null) return { configError: this.configError, notes: [], pools: [] };
    const pools = targets.map((p): PoolPlan => {
      const detach = this.stale(p).map((w) => w.id);
      const start = detach.length + Math.max(0, p.instances - this.attachedCount(p.name));
      return {
        pool: p.name,
        revision: p.revision,
        start,
        detach,
        changes: this.changes(p),
        busy: null,
        liftsCrashLoop: p.status !== 'ok',
        upToDate: start === 0 && detach.length === 0,
      };
    });
    return { configError: null, notes: [], pools: pools.sort((a, b) => a.pool.localeCompare(b.pool)) };
  }

  /**
   * The worker's `sessions` as made-up sessions (`fakesess<n>…`), one a minute before the detach,
   * the last seen latest; in-flight and WebSocket counts as they are.
   */
  drainInfo(worker: string, limit: number): DrainInfo {
    this.call('drainInfo', worker, limit);
    const info = this.find(worker);
    const detached = info.state === 'detached';
    const base = Date.parse(info.detachedAt ?? new Date(DETACHED_AT).toISOString());
    const all: DrainSession[] = Array.from({ length: isAlive(info.state) ? info.sessions : 0 }, (_, i) => {
      const lastSeen = base - (i + 1) * 60_000;
      return {
        id: truncateSessionId(`fakesess${i}abcdef`),
        lastSeenAt: new Date(lastSeen).toISOString(),
        expiresAt: new Date(lastSeen + IDLE_TIMEOUT_MS).toISOString(),
        open: 0,
      };
    });
    const deadline = detached ? (info.drainDeadline ?? null) : null;
    const latest = all[0]?.expiresAt ?? null;
    let eta: string | null = null;
    let etaBasis: DrainInfo['etaBasis'] = 'unknown';
    // As the real one (apps/supervisor/src/drain-info.ts): an open WebSocket only the deadline
    // ends; no session left: it stops now; else the latest expiry, capped by the deadline.
    if (detached) {
      if (info.webSockets > 0) [eta, etaBasis] = deadline === null ? [null, 'unknown'] : [deadline, 'deadline'];
      else if (latest === null) [eta, etaBasis] = [new Date(T0).toISOString(), 'empty'];
      else if (deadline !== null && Date.parse(deadline) < Date.parse(latest)) [eta, etaBasis] = [deadline, 'deadline'];
      else [eta, etaBasis] = [latest, 'sessions'];
    }
    return {
      worker: info.id,
      state: info.state,
      detachedAt: info.detachedAt,
      sessions: info.sessions,
      inFlight: info.inFlight,
      webSockets: info.webSockets,
      maxSeconds: DRAIN_MAX_MS / 1000,
      deadline,
      eta,
      etaBasis,
      remaining: all.slice(0, limit),
      truncated: all.length > limit,
    };
  }

  // ---- node drain (as node-drain.ts; the fake's workers hold what its visits bound) ----------

  private nodeDrainedBy: { since: string; by: string } | null = null;

  nodeStatus(): NodeStatus {
    this.call('nodeStatus');
    const live = [...this.workers.values()].filter((w) => isAlive(w.state));
    const sum = (key: 'sessions' | 'inFlight' | 'webSockets') => live.reduce((total, w) => total + w[key], 0);
    const draining = this.nodeDrainedBy !== null;
    const allPoolsErrored = [...this.pools.values()].every((p) => p.status === 'errored');
    const [sessions, inFlight, webSockets] = [sum('sessions'), sum('inFlight'), sum('webSockets')];
    return {
      accepting: !draining && !allPoolsErrored,
      draining,
      drainingSince: this.nodeDrainedBy?.since ?? null,
      drainedBy: this.nodeDrainedBy?.by ?? null,
      allPoolsErrored,
      sessions,
      inFlight,
      webSockets,
      drained: draining && sessions + inFlight + webSockets === 0,
    };
  }

  drainNode(actor: string): NodeStatus {
    this.call('drainNode', actor);
    if (this.nodeDrainedBy === null) {
      this.nodeDrainedBy = { since: new Date(T0 + this.events.length * 1000).toISOString(), by: actor };
      this.record('node.draining', `node draining (by ${actor})`, { actor });
    }
    return this.nodeStatus();
  }

  readyNode(actor: string): NodeStatus {
    this.call('readyNode', actor);
    if (this.nodeDrainedBy !== null) {
      this.nodeDrainedBy = null;
      this.record('node.ready', `node ready (by ${actor})`, { actor });
    }
    return this.nodeStatus();
  }

  async stopNow(worker: string, actor: string): Promise<WorkerInfo> {
    this.call('stopNow', worker, actor);
    const info = this.find(worker);
    requireDetachedToStop(info);
    this.action(actor, info, `stop ${worker} now`);
    const pool = this.pools.get(info.pool);
    const lost = info.sessions;
    // As the real one (drain.ts stopDrainNow): recorded when anything at all was cut.
    if (lost > 0 || info.inFlight > 0 || info.webSockets > 0) {
      if (pool !== undefined) pool.sessionsLost += lost;
      const n = (count: number, one: string) => `${count} ${count === 1 ? one : `${one}s`}`;
      this.record(
        'sessions.lost',
        `${actor} stopped ${worker} before its drain ended, with ${n(lost, 'session')}, ${n(info.inFlight, 'request')} and ${n(info.webSockets, 'WebSocket')} left; ${n(lost, 'session')} ${lost === 1 ? 'was' : 'were'} lost`,
        { actor, pool: info.pool, worker, data: { count: lost, inFlight: info.inFlight, webSockets: info.webSockets, reason: 'stopped-now' } },
      );
    }
    this.record('worker.stopping', `stopping ${worker} (stopped now by ${actor}): SIGTERM, SIGKILL after 5s`, { pool: info.pool, worker });
    const stoppedAt = new Date(T0 + this.events.length * 1000).toISOString();
    const stopped: WorkerInfo = {
      ...info,
      state: 'stopped',
      attached: false,
      pid: null,
      sessions: 0,
      inFlight: 0,
      webSockets: 0,
      stoppedAt,
      exitCode: null,
      exitSignal: 'SIGTERM',
      drainDeadline: null,
      health: 'unknown',
    };
    this.workers.set(worker, stopped);
    this.record('worker.stopped', `${worker} stopped (signal SIGTERM)`, { pool: info.pool, worker, data: { code: null, signal: 'SIGTERM' } });
    return stopped;
  }

  async stopSupervisor(options: { keepWorkers: boolean }, actor: string): Promise<SupervisorStopResult> {
    this.call('stopSupervisor', options, actor);
    if (this.stopRequested !== null) throw new ControlError('CONFLICT', 'the supervisor is already stopping');
    this.stopRequested = { keepWorkers: options.keepWorkers, actor };
    const workers = [...this.workers.values()].filter((w) => w.state !== 'stopped' && w.state !== 'crashed' && w.state !== 'failed');
    this.record('action', `${actor}: stop the supervisor${options.keepWorkers ? ', keeping the workers running' : ''}`, { actor });
    return { keepWorkers: options.keepWorkers, workers: workers.map((w) => w.id), pid: 4242 };
  }
}
