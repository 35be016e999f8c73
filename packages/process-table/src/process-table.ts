import { isAlive, isTerminal } from './state-machine';
import type { InstanceState } from './types';
import { parseWorkerId } from './worker-id';
import type { WorkerRow } from './worker-row';

export interface ProcessTableOptions<W extends WorkerRow> {
  /** Ended rows kept per pool for the record (the event log keeps the full history). Default 5. */
  keepEnded?: number;
  /** After every state change of a row, and when a row is added (the supervisor records it). */
  onChange?: (worker: W) => void;
  /**
   * After a pool's routing targets changed: `targets` are its started workers (new sessions are
   * spread over them), `target` the newest of them (the fallback, and what events name).
   */
  onTarget?: (pool: string, target: W | undefined, targets: readonly W[]) => void;
}

/**
 * The process table: pools, their workers in generation order, every state change through the
 * state machine, the routing target of each pool kept in step with those changes, and pruning
 * of ended rows. No I/O and no clock of its own: the supervisor drives it.
 */
export class ProcessTable<W extends WorkerRow> {
  private readonly pools = new Map<string, PoolRows<W>>();
  private readonly keepEnded: number;
  private readonly onChange: (worker: W) => void;
  private readonly onTarget: (pool: string, target: W | undefined, targets: readonly W[]) => void;

  constructor(options: ProcessTableOptions<W> = {}) {
    this.keepEnded = options.keepEnded ?? 5;
    this.onChange = options.onChange ?? (() => {});
    this.onTarget = options.onTarget ?? (() => {});
  }

  addPool(name: string): PoolRows<W> {
    if (this.pools.has(name)) throw new Error(`pool ${name} is already in the table`);
    const pool = new PoolRows<W>(name);
    this.pools.set(name, pool);
    return pool;
  }

  pool(name: string): PoolRows<W> | undefined {
    return this.pools.get(name);
  }

  poolNames(): string[] {
    return [...this.pools.keys()];
  }

  /** The row of `pool@generation`, or undefined (unknown pool, generation or malformed id). */
  find(id: string): W | undefined {
    const parsed = parseWorkerId(id);
    if (parsed === null) return undefined;
    return this.pools.get(parsed.pool)?.workers.find((worker) => worker.generation === parsed.generation);
  }

  /** Every row, pool by pool, each pool in generation order. */
  rows(): W[] {
    const rows: W[] = [];
    for (const pool of this.pools.values()) rows.push(...pool.workers);
    return rows;
  }

  /** Ids of the rows whose process is (or should be) running. */
  aliveIds(): string[] {
    return this.rows()
      .filter((worker) => isAlive(worker.state))
      .map((worker) => worker.id);
  }

  /**
   * Adds a new row in generation order and prunes the pool's oldest ended rows beyond
   * `keepEnded`; returns the pruned rows (their records and logs are the caller's to delete).
   */
  add(worker: W): W[] {
    const pool = this.poolOf(worker);
    pool.insert(worker);
    this.onChange(worker);
    this.retarget(pool);
    return pool.pruneEnded(this.keepEnded);
  }

  /** A state change through the state machine (an illegal one throws and changes nothing). */
  transition(worker: W, to: InstanceState, at?: Date): void {
    worker.transition(to, at);
    this.onChange(worker);
    this.retarget(this.poolOf(worker));
  }

  /** Puts a re-adopted row straight into its recorded state. */
  restore(worker: W, state: InstanceState): void {
    worker.restore(state);
    this.onChange(worker);
    this.retarget(this.poolOf(worker));
  }

  private poolOf(worker: W): PoolRows<W> {
    const pool = this.pools.get(worker.pool);
    if (pool === undefined) throw new Error(`no pool ${worker.pool} in the table for ${worker.id}`);
    return pool;
  }

  private retarget(pool: PoolRows<W>): void {
    const targets = pool.workers.filter((worker) => worker.state === 'started');
    const target = newestStarted(targets);
    if (target === pool.target && sameWorkers(targets, pool.targets)) return;
    pool.target = target;
    pool.targets = targets;
    this.onTarget(pool.name, target, targets);
  }
}

function sameWorkers<W>(a: readonly W[], b: readonly W[]): boolean {
  return a.length === b.length && a.every((worker, i) => worker === b[i]);
}

/** One pool's rows. Changed only through the ProcessTable, so `target` is always current. */
export class PoolRows<W extends WorkerRow> {
  /** In generation order (listings, reattach and pruning rely on it). */
  readonly workers: W[] = [];
  /** The newest started (attached and ready) worker: the fallback for new sessions. */
  target: W | undefined = undefined;
  /** Every started worker, in generation order: new sessions are spread over them. */
  targets: readonly W[] = [];
  private next = 0;

  constructor(readonly name: string) {}

  /** The generation the next new worker gets; generations only grow. */
  get nextGeneration(): number {
    return this.next;
  }

  /** Takes the next generation for a new worker. */
  takeGeneration(): number {
    return this.next++;
  }

  /** Raises the next generation to at least `generation` (records of a previous supervisor). */
  raiseGeneration(generation: number): void {
    this.next = Math.max(this.next, generation);
  }

  /** Workers that count toward the pool's wanted instances (starting or started). */
  attachedCount(): number {
    let count = 0;
    for (const worker of this.workers) if (worker.attached) count++;
    return count;
  }

  /** Ports held by live workers (a new worker must not be given one). */
  takenPorts(): Set<number> {
    const ports = new Set<number>();
    for (const worker of this.workers) if (isAlive(worker.state)) ports.add(worker.port);
    return ports;
  }

  /** Started workers other than `except`, newest first. */
  startedNewestFirst(except?: W): W[] {
    return this.workers.filter((worker) => worker !== except && worker.state === 'started').reverse();
  }

  /** @internal ProcessTable.add */
  insert(worker: W): void {
    if (this.workers.some((other) => other.generation === worker.generation)) {
      throw new Error(`${worker.id} is already in the table`);
    }
    this.raiseGeneration(worker.generation + 1);
    // Re-adopted workers arrive in the order their health checks answer.
    const at = this.workers.findIndex((other) => other.generation > worker.generation);
    if (at === -1) this.workers.push(worker);
    else this.workers.splice(at, 0, worker);
  }

  /** @internal ProcessTable.add */
  pruneEnded(keep: number): W[] {
    const ended = this.workers.filter((worker) => isTerminal(worker.state));
    const pruned = ended.slice(0, Math.max(0, ended.length - keep));
    for (const worker of pruned) this.workers.splice(this.workers.indexOf(worker), 1);
    return pruned;
  }
}

/** Picks the worker new sessions go to: the newest (highest generation) attached, ready one. */
export function newestStarted<W extends { state: string; generation: number }>(
  workers: Iterable<W>,
): W | undefined {
  let newest: W | undefined;
  for (const worker of workers) {
    if (worker.state !== 'started') continue;
    if (newest === undefined || worker.generation > newest.generation) newest = worker;
  }
  return newest;
}
