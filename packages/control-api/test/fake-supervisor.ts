/**
 * An in-memory `SupervisorControl` for tests of the control API, the CLI and the console:
 * no processes, no sockets, a real event emitter. Exported as `@handover/control-api/testing`.
 */
import { EventEmitter } from 'node:events';
import { ControlError, type SupervisorControl } from '../src/contract';
import type {
  DetachAndSyncResult,
  EventType,
  HandoverEvent,
  LogLine,
  PoolInfo,
  SessionSample,
  SupervisorStopResult,
  SyncResult,
  WorkerInfo,
} from '@handover/process-table';

export interface FakeCall {
  method: string;
  args: unknown[];
}

const T0 = Date.parse('2030-01-02T03:04:05.000Z');

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
    ...patch,
  };
}

export class FakeSupervisor implements SupervisorControl {
  readonly calls: FakeCall[] = [];
  readonly events: HandoverEvent[] = [];
  readonly workers = new Map<string, WorkerInfo>();
  readonly pools = new Map<string, PoolInfo>();
  private readonly emitter = new EventEmitter();
  /** When set, `detachAndSync` fails like a successor that never became ready. */
  failNextStart: string | null = null;
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
      }),
    );
    this.pools.set('web', {
      name: 'web',
      revision: 'v2',
      command: 'node server.js',
      sessionCookie: 'connect.sid',
      instances: 1,
      attached: 1,
      status: 'ok',
      restarts: 0,
      nextRestartAt: null,
      lastError: null,
      sessionsLost: 0,
    });
  }

  /** Records an event and pushes it to every listener (like the real supervisor). */
  record(type: EventType, message: string, patch: Partial<HandoverEvent> = {}): HandoverEvent {
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

  private get(worker: string): WorkerInfo {
    const info = this.workers.get(worker);
    if (info === undefined) throw new ControlError('NOT_FOUND', `no worker named ${worker}`);
    return info;
  }

  private nextGeneration(pool: string): number {
    let max = -1;
    for (const w of this.workers.values()) if (w.pool === pool) max = Math.max(max, w.generation);
    return max + 1;
  }

  private startNew(pool: string, actor: string): WorkerInfo {
    const id = `${pool}@${this.nextGeneration(pool)}`;
    const revision = this.pools.get(pool)?.revision ?? 'v1';
    if (this.failNextStart !== null) {
      const message = this.failNextStart;
      this.failNextStart = null;
      this.record('worker.failed', `${id} failed: ${message}`, { pool, worker: id, actor });
      throw new ControlError('PRECONDITION_FAILED', `${id} did not become ready: ${message}`);
    }
    const info = fakeWorker(id, { revision });
    this.workers.set(id, info);
    this.record('worker.starting', `${id} starting on ${revision}`, { pool, worker: id, actor });
    this.record('worker.started', `${id} ready`, { pool, worker: id, actor });
    return info;
  }

  listWorkers(): WorkerInfo[] {
    this.call('listWorkers');
    if (this.breakListWorkers) throw new Error('boom (an unexpected bug)');
    return [...this.workers.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  listPools(): PoolInfo[] {
    this.call('listPools');
    return [...this.pools.values()];
  }

  async detach(worker: string, actor: string): Promise<WorkerInfo> {
    this.call('detach', worker, actor);
    const info = this.get(worker);
    if (!info.attached) throw new ControlError('PRECONDITION_FAILED', `${worker} is already detached`);
    const next: WorkerInfo = {
      ...info,
      state: 'detached',
      attached: false,
      detachedAt: new Date(T0 + 120_000).toISOString(),
    };
    this.workers.set(worker, next);
    this.record('action', `${actor} detached ${worker}`, { actor, pool: info.pool, worker });
    this.record('worker.detached', `${worker} detached`, { actor, pool: info.pool, worker });
    return next;
  }

  async detachAndSync(worker: string, actor: string): Promise<DetachAndSyncResult> {
    this.call('detachAndSync', worker, actor);
    const info = this.get(worker);
    if (!info.attached) throw new ControlError('PRECONDITION_FAILED', `${worker} is already detached`);
    this.record('action', `${actor} detach and sync ${worker}`, { actor, pool: info.pool, worker });
    const started = this.startNew(info.pool, actor);
    const detached: WorkerInfo = {
      ...info,
      state: 'detached',
      attached: false,
      detachedAt: new Date(T0 + 120_000).toISOString(),
    };
    this.workers.set(worker, detached);
    this.record('worker.detached', `${worker} detached`, { actor, pool: info.pool, worker });
    return { detached, started };
  }

  async reattach(worker: string, actor: string): Promise<WorkerInfo> {
    this.call('reattach', worker, actor);
    const info = this.get(worker);
    if (info.state !== 'detached') {
      throw new ControlError('PRECONDITION_FAILED', `${worker} is ${info.state}, only a detached worker can be reattached`);
    }
    const next: WorkerInfo = { ...info, state: 'started', attached: true, detachedAt: null };
    this.workers.set(worker, next);
    this.record('worker.reattached', `${worker} reattached`, { actor, pool: info.pool, worker });
    return next;
  }

  async sync(pool: string | undefined, actor: string): Promise<SyncResult> {
    this.call('sync', pool, actor);
    if (pool !== undefined && !this.pools.has(pool)) throw new ControlError('NOT_FOUND', `no pool named ${pool}`);
    const result: SyncResult = { pools: [] };
    for (const p of this.pools.values()) {
      if (pool !== undefined && p.name !== pool) continue;
      const attached = [...this.workers.values()].filter((w) => w.pool === p.name && w.attached).length;
      const started: WorkerInfo[] = [];
      for (let i = attached; i < p.instances; i++) started.push(this.startNew(p.name, actor));
      result.pools.push({ pool: p.name, started, error: null });
    }
    this.record('pool.synced', `synced by ${actor}`, { actor, pool: pool ?? null });
    return result;
  }

  logs(worker: string, lines: number): LogLine[] {
    this.call('logs', worker, lines);
    this.get(worker);
    const all: LogLine[] = Array.from({ length: 10 }, (_, i) => ({
      at: new Date(T0 + i * 1000).toISOString(),
      stream: i % 4 === 3 ? 'stderr' : 'stdout',
      text: `${worker} line ${i + 1}`,
    }));
    return all.slice(-lines);
  }

  listEvents(options: { afterId?: number; limit: number }): HandoverEvent[] {
    this.call('listEvents', options);
    if (options.afterId === undefined) return this.events.slice(-options.limit);
    const afterId = options.afterId;
    return this.events.filter((e) => e.id > afterId).slice(0, options.limit);
  }

  onEvent(listener: (event: HandoverEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  /** Three samples two seconds apart, ending with the current counts. */
  sessionHistory(): SessionSample[] {
    this.call('sessionHistory');
    const now = Object.fromEntries([...this.workers.values()].map((w) => [w.id, w.sessions]));
    return [0, 1, 2].map((i) => ({
      at: new Date(T0 + i * 2000).toISOString(),
      sessions: Object.fromEntries(Object.entries(now).map(([id, count]) => [id, Math.max(0, count + 2 - i)])),
    }));
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
