import type { FleetNodeView } from '@handover/control-api/fleet';
import type { NodeStatus, PoolInfo, WorkerInfo } from '@handover/process-table';
import { isRunning } from './workers';

/** What `/api/fleet/status` answers. */
export interface FleetStatusAnswer {
  at: string;
  nodes: FleetNodeView[];
  totalSessions: number;
}

/** What `/api/fleet/sync` answers (server/fleet-sync-run.ts's FleetSyncRun, as JSON). */
export interface FleetSyncRunView {
  id: number;
  startedBy: string;
  startedAt: string;
  finishedAt: string | null;
  state: 'running' | 'done' | 'stopped';
  steps: Array<{ kind: string; node: string | null; pool: string | null; message: string; at: string }>;
  upgraded: string[];
  stoppedAt: { node: string | null; pool: string | null; reason: string } | null;
}

export type Tone = 'good' | 'warn' | 'bad' | 'muted';

/** Whether a node takes new clients, in the words and colour of its badge. */
export function nodeTraffic(view: FleetNodeView): { label: string; tone: Tone } {
  const node = view.node;
  if (node === null) return { label: 'unreachable', tone: 'bad' };
  if (node.drained) return { label: 'drained', tone: 'muted' };
  if (node.draining) return { label: 'draining', tone: 'warn' };
  if (!node.accepting) return { label: 'pools errored', tone: 'bad' };
  return { label: 'takes new clients', tone: 'good' };
}

/** A pool's running revisions against the configured one; drift when they differ (or the supervisor says so). */
export function poolRevisions(pool: PoolInfo): { running: string; configured: string; drift: boolean } {
  const running = pool.runningRevisions ?? [];
  const drift = (pool.drift !== undefined && pool.drift !== null) || running.some((revision) => revision !== pool.revision);
  return { running: running.length === 0 ? '—' : running.join(' + '), configured: pool.revision, drift };
}

/** The workers worth a row: those still running (starting, started, detached, stopping), by id. */
export function liveWorkers(view: FleetNodeView): WorkerInfo[] {
  return view.workers.filter(isRunning).sort((a, b) => a.pool.localeCompare(b.pool) || a.generation - b.generation);
}

/** Nodes that answered, and how many of them do not take new clients. */
export function fleetSummary(nodes: readonly FleetNodeView[]): { reachable: number; notTaking: number; drifting: number } {
  const reachable = nodes.filter((n) => n.node !== null);
  return {
    reachable: reachable.length,
    notTaking: reachable.filter((n) => !n.node!.accepting).length,
    drifting: reachable.filter((n) => n.pools.some((p) => poolRevisions(p).drift)).length,
  };
}

/** The one line under the rolling sync's progress. */
export function runOutcome(run: FleetSyncRunView): string {
  if (run.state === 'running') return 'running…';
  if (run.state === 'done') return run.upgraded.length === 0 ? 'done: every node was up to date' : `done: upgraded ${run.upgraded.join(', ')}`;
  const where = run.stoppedAt?.node === null || run.stoppedAt === null ? '' : ` at node ${run.stoppedAt.node}`;
  return `stopped${where}: ${run.stoppedAt?.reason ?? 'unknown reason'}`;
}

/** What the front (HAProxy's check of /node-health) is told about this node, in words. */
export function nodeTrafficText(node: NodeStatus): string {
  if (node.drained) return 'Drained: nothing left on this node, it can be taken down';
  if (node.draining) {
    const left = [`${node.sessions} session${node.sessions === 1 ? '' : 's'}`, `${node.inFlight} in flight`, `${node.webSockets} WebSocket${node.webSockets === 1 ? '' : 's'}`];
    return `Draining: no new clients; ${left.join(', ')} left`;
  }
  if (node.allPoolsErrored) return 'Every pool is errored: the front sends no new clients';
  return 'Takes new clients';
}
