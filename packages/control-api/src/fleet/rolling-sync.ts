/**
 * The fleet's rolling upgrade (`handover fleet sync`, the console's Rolling sync): node after
 * node in the fleet file's order, each pool out of step with that node's configuration
 * (`pools.plan`) gets one detach-and-sync (every instance replaced at once, users kept on the old
 * workers). detachAndSync answers once the successors are ready, so the next node starts only
 * then. The first failure stops it: the nodes after it are not touched.
 */
import type { FleetClient } from './fleet-status';
import { describeFailure } from './fleet-status';

export type RollingSyncStepKind = 'up-to-date' | 'syncing' | 'synced' | 'stopped' | 'done';

/** One line of progress: which node and pool, what happened, in words. */
export interface RollingSyncStep {
  kind: RollingSyncStepKind;
  /** Null only for `done`. */
  node: string | null;
  pool: string | null;
  message: string;
}

export type RollingSyncResult =
  | { ok: true; upgraded: string[] }
  | { ok: false; upgraded: string[]; stoppedAt: { node: string; pool: string | null; reason: string } };

export interface RollingSyncOptions {
  /** How long a node may take to answer a question (its plan, its workers). Default 10 s. */
  questionTimeoutMs?: number;
  /**
   * How long one detach-and-sync may take (it answers once the successors are ready, so this is
   * above any pool's health-check timeout). Default 15 min. A node that hangs stops the run.
   */
  syncTimeoutMs?: number;
}

/** A request that gave up after `ms` says so in seconds; anything else as it came. */
function failure(error: unknown, ms: number): string {
  const name = (error as { cause?: { name?: string }; name?: string })?.cause?.name ?? (error as { name?: string })?.name;
  return name === 'TimeoutError' || name === 'AbortError' ? `it did not answer within ${ms / 1000} s` : describeFailure(error);
}

export async function rollingSync(
  clients: readonly FleetClient[],
  onStep: (step: RollingSyncStep) => void = () => {},
  options: RollingSyncOptions = {},
): Promise<RollingSyncResult> {
  const questionMs = options.questionTimeoutMs ?? 10_000;
  const syncMs = options.syncTimeoutMs ?? 15 * 60_000;
  const within = (ms: number) => ({ signal: AbortSignal.timeout(ms) });
  const upgraded: string[] = [];
  const stop = (node: string, pool: string | null, reason: string): RollingSyncResult => {
    const before = upgraded.length === 0 ? 'no node was changed' : `already upgraded: ${upgraded.join(', ')}`;
    onStep({ kind: 'stopped', node, pool, message: `fleet sync stopped at node ${node}: ${reason}\n${before}; the nodes after it were not touched` });
    return { ok: false, upgraded: [...upgraded], stoppedAt: { node, pool, reason } };
  };

  for (const { node, client } of clients) {
    let plans;
    try {
      plans = await client.pools.plan.query(undefined, within(questionMs));
    } catch (error) {
      return stop(node.name, null, `its control API did not answer: ${failure(error, questionMs)}`);
    }
    if (plans.configError !== null) return stop(node.name, null, `its configuration does not load: ${plans.configError}`);
    const due = plans.pools.filter((plan) => !plan.upToDate);
    if (due.length === 0) {
      onStep({ kind: 'up-to-date', node: node.name, pool: null, message: `node ${node.name}: up to date` });
      continue;
    }
    for (const plan of due) {
      let first;
      try {
        first = (await client.workers.list.query(undefined, within(questionMs))).find((w) => w.pool === plan.pool && w.state === 'started');
      } catch (error) {
        return stop(node.name, plan.pool, `its control API did not answer: ${failure(error, questionMs)}`);
      }
      if (first === undefined) return stop(node.name, plan.pool, `pool ${plan.pool} has no started worker to replace`);
      onStep({ kind: 'syncing', node: node.name, pool: plan.pool, message: `node ${node.name}: detach and sync of pool ${plan.pool} (${first.id} …) to revision ${plan.revision}…` });
      try {
        const result = await client.workers.detachAndSync.mutate({ worker: first.id }, within(syncMs));
        const started = result.allStarted.map((w) => w.id).join(', ');
        const draining = result.allDetached.map((w) => w.id).join(', ');
        onStep({ kind: 'synced', node: node.name, pool: plan.pool, message: `node ${node.name}: ${started} ready on ${plan.revision}; ${draining} draining` });
      } catch (error) {
        const why = failure(error, syncMs);
        // Given up on here, the node may still finish it: say where to look.
        const timedOut = why.startsWith('it did not answer');
        return stop(node.name, plan.pool, timedOut ? `detach and sync of ${first.id}: ${why} (the node may still finish it; see its status)` : why);
      }
    }
    upgraded.push(node.name);
  }
  onStep({ kind: 'done', node: null, pool: null, message: `fleet sync done: ${upgraded.length === 0 ? 'every node was up to date' : `upgraded ${upgraded.join(', ')}`}` });
  return { ok: true, upgraded };
}
