import type { InstanceState, PoolInfo, WorkerInfo } from '@handover/process-table';

/** States in which the worker process is (still) running. */
const RUNNING: ReadonlySet<InstanceState> = new Set(['starting', 'started', 'detached', 'stopping']);

export const isRunning = (worker: WorkerInfo): boolean => RUNNING.has(worker.state);

/** The id the pool's next worker will get (generations only grow). */
export function nextWorkerId(pool: string, workers: readonly WorkerInfo[]): string {
  let max = -1;
  for (const worker of workers) if (worker.pool === pool && worker.generation > max) max = worker.generation;
  return `${pool}@${max + 1}`;
}

/** Newest generation first: the worker taking new sessions sits on top. */
export function byGenerationDesc(a: WorkerInfo, b: WorkerInfo): number {
  return b.generation - a.generation;
}

/** What each state means, for the badge's tooltip and screen readers. */
export const STATE_DESCRIPTIONS: Record<InstanceState, string> = {
  starting: 'spawned; waiting for its health check',
  started: 'ready and taking new sessions',
  detached: 'serving only the sessions it has; stops when they end',
  stopping: 'asked to stop; waiting for it to exit',
  stopped: 'exited after being asked to',
  crashed: 'exited without being asked to',
  failed: 'never became ready',
};

/** The app's own session count beside Handover's (pools[].sessionProbe). */
export interface AppSessionsView {
  text: string;
  /** `differs`: the app and Handover disagree (highlighted); `unknown`: the probe failed or has not answered. */
  tone: 'agrees' | 'differs' | 'unknown';
  /** The tooltip: the probe, and why it failed. */
  title: string;
}

/** What the Sessions cell adds for a running worker of a pool with a session probe; null otherwise. */
export function appSessionsView(worker: WorkerInfo, pool: PoolInfo | undefined): AppSessionsView | null {
  const path = pool?.sessionProbe;
  if (path == null || (worker.state !== 'started' && worker.state !== 'detached')) return null;
  const app = worker.appSessions;
  if (app == null) {
    return { text: 'app: ?', tone: 'unknown', title: worker.appSessionsError ?? `no answer yet to GET ${path}` };
  }
  if (app === worker.sessions) return { text: `app says ${app}`, tone: 'agrees', title: `GET ${path}: the app counts ${app} too` };
  const drains = worker.state === 'detached' && app === 0 ? '; it stops once no request or WebSocket is open' : '';
  return { text: `app says ${app}`, tone: 'differs', title: `GET ${path}: the app counts ${app}, Handover ${worker.sessions}${drains}` };
}

/** A pool's workers split the way the table shows them: live first, ended ones folded away. */
export interface WorkerGroups {
  /** Running workers, newest generation first (the one taking new sessions on top). */
  live: WorkerInfo[];
  /**
   * Ended workers newer than every live one (a successor that failed to start, the last
   * crash): the latest attempt, so they stay in view with their "why".
   */
  latest: WorkerInfo[];
  /** Every other ended worker, newest first: history, collapsed by default. */
  ended: WorkerInfo[];
}

export function groupWorkers(workers: readonly WorkerInfo[]): WorkerGroups {
  const sorted = [...workers].sort(byGenerationDesc);
  const live = sorted.filter(isRunning);
  const newestLive = live.length > 0 ? live[0]!.generation : -1;
  const endedAll = sorted.filter((w) => !isRunning(w));
  return {
    live,
    latest: endedAll.filter((w) => w.generation > newestLive && (w.state === 'failed' || w.state === 'crashed')),
    ended: endedAll.filter((w) => !(w.generation > newestLive && (w.state === 'failed' || w.state === 'crashed'))),
  };
}

/**
 * What "Attached" means to an operator: workers that are ready and take new sessions, against
 * the number wanted. A successor still starting is attached in the supervisor's count (it
 * will take new sessions once ready) but serves nobody yet, so it is named apart.
 */
export function attachedView(pool: PoolInfo, workers: readonly WorkerInfo[]): { text: string; starting: string[]; short: boolean } {
  const mine = workers.filter((w) => w.pool === pool.name && w.attached);
  const ready = mine.filter((w) => w.state === 'started').length;
  const starting = mine.filter((w) => w.state === 'starting').map((w) => w.id);
  const text = `${ready} / ${pool.instances} wanted${starting.length > 0 ? ` · ${starting.join(', ')} starting` : ''}`;
  return { text, starting, short: ready + starting.length < pool.instances };
}

/**
 * The worker a running detach-and-sync (or sync) is starting: the newest of the pool above
 * the generation seen when the operator pressed the button, else the id predicted then. (The
 * prediction alone goes stale: once the successor shows up, "the next id" is the one after it.)
 */
export function successorInProgress(pool: string, workers: readonly WorkerInfo[], aboveGeneration: number, predicted: string): string {
  let found: WorkerInfo | undefined;
  for (const worker of workers) {
    if (worker.pool !== pool || worker.generation <= aboveGeneration) continue;
    if (found === undefined || worker.generation < found.generation) found = worker;
  }
  return found?.id ?? predicted;
}

/** The highest generation of a pool so far (−1 for none). */
export function newestGeneration(pool: string, workers: readonly WorkerInfo[]): number {
  let max = -1;
  for (const worker of workers) if (worker.pool === pool && worker.generation > max) max = worker.generation;
  return max;
}

/** The revision the pool serves new sessions with: its ready attached workers' (null: none ready). */
export function servingRevisions(pool: string, workers: readonly WorkerInfo[]): string[] {
  const revisions = new Set<string>();
  for (const worker of workers) if (worker.pool === pool && worker.attached && worker.state === 'started') revisions.add(worker.revision);
  return [...revisions];
}

/**
 * What Reattach of `worker` does to the pool (the supervisor's rule in supervisor.ts
 * `reattach`): it takes new sessions again and the newest started workers are detached until
 * no more than `instances` are attached. A detached worker with nothing left stops at once.
 */
export function reattachPlan(worker: WorkerInfo, poolWorkers: readonly WorkerInfo[], instances: number): WorkerInfo[] {
  const attached = poolWorkers.filter((w) => w.id !== worker.id && w.attached && (w.state === 'started' || w.state === 'starting'));
  let count = attached.length + 1;
  const detached: WorkerInfo[] = [];
  for (const newer of attached.filter((w) => w.state === 'started').sort(byGenerationDesc)) {
    if (count <= instances) break;
    detached.push(newer);
    count--;
  }
  return detached;
}

/**
 * What Detach and sync of `worker` does (the supervisor's rule in supervisor.ts `detachAndSync`):
 * as many successors as the pool's instances start together, from the next generation, and
 * every started worker of the pool (the named one first) is detached once they are all ready.
 */
export function detachPlan(worker: WorkerInfo, poolWorkers: readonly WorkerInfo[], instances: number): { detached: string[]; successors: string[] } {
  const next = Number(nextWorkerId(worker.pool, poolWorkers).split('@')[1]);
  const successors = Array.from({ length: Math.max(1, instances) }, (_, i) => `${worker.pool}@${next + i}`);
  const others = poolWorkers.filter((w) => w.id !== worker.id && w.pool === worker.pool && w.state === 'started').sort(byGenerationDesc);
  return { detached: [worker.id, ...others.map((w) => w.id)], successors };
}

/** `a`, `a and b`, `a, b and c`. */
export function listOf(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}
