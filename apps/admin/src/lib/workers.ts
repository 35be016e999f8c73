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
