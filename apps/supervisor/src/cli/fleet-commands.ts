/**
 * `handover fleet status|sync`: every node of the fleet file (fleet/fleet-file.ts) through its
 * own control API. `sync` is the rolling upgrade: node after node, each pool that is out of step
 * with that node's configuration gets a detach-and-sync (every instance replaced at once, users
 * kept), the next node only once the previous one's successors are ready; the first failure
 * stops it, saying what was done and why. Every action lands in that node's event log, with the
 * actor `cli:<user> (fleet)`.
 */
import { join, resolve } from 'node:path';
import { type ControlClient, createControlClient } from '@handover/control-api';
import type { NodeStatus, PoolInfo, WorkerInfo } from '@handover/process-table';
import { FLEET_FILE, FLEET_FILE_ENV, FleetFileError, type FleetNodeAccess, readFleetFile } from '../fleet/fleet-file';
import type { CliOptions } from './arguments';
import type { CommandSpec } from './commands';
import { safeUsername } from './connect';
import { CliError, UsageError } from './errors';
import { EXIT_FAILURE, EXIT_OK, type CliIO } from './io';

interface NodeView {
  name: string;
  control: string;
  error: string | null;
  node: NodeStatus | null;
  pools: PoolInfo[];
  workers: WorkerInfo[];
}

export async function fleet(io: CliIO, values: CliOptions, args: readonly string[], spec: CommandSpec): Promise<number> {
  const action = args[0];
  if (action !== 'status' && action !== 'sync') throw new UsageError(`fleet: ${JSON.stringify(action)} is not status or sync`, spec.usage);
  const path = resolve(io.cwd, values.fleet ?? io.env[FLEET_FILE_ENV] ?? join(io.cwd, FLEET_FILE));
  let nodes: FleetNodeAccess[];
  try {
    nodes = await readFleetFile(path, io.env);
  } catch (error) {
    if (error instanceof FleetFileError) throw new CliError(error.message);
    throw error;
  }
  const actor = `cli:${io.username ?? safeUsername(io.env)} (fleet)`;
  const clients = nodes.map((node) => ({ node, client: createControlClient({ url: node.control, token: node.token, actor }) }));
  const out = (text: string) => io.stdout.write(text);
  if (action === 'status') {
    const views = await Promise.all(clients.map(({ node, client }) => viewOf(node, client)));
    if (values.json === true) out(`${JSON.stringify(views, null, 2)}\n`);
    else out(formatFleet(views));
    return views.some((view) => view.error !== null) ? EXIT_FAILURE : EXIT_OK;
  }
  return rollingSync(clients, out);
}

async function viewOf(node: FleetNodeAccess, client: ControlClient): Promise<NodeView> {
  try {
    const [status, pools, workers] = await Promise.all([client.node.status.query(), client.pools.list.query(), client.workers.list.query()]);
    return { name: node.name, control: node.control, error: null, node: status, pools, workers };
  } catch (error) {
    return { name: node.name, control: node.control, error: (error as Error).message, node: null, pools: [], workers: [] };
  }
}

export function formatFleet(views: readonly NodeView[]): string {
  const rows = [['NODE', 'TAKES NEW CLIENTS', 'SESSIONS', 'POOLS (running / configured)']];
  let total = 0;
  for (const view of views) {
    if (view.node === null) {
      rows.push([view.name, `unreachable: ${view.error}`, '-', '-']);
      continue;
    }
    total += view.node.sessions;
    const accepting = view.node.accepting ? 'yes' : view.node.drained ? 'no (drained)' : view.node.draining ? 'no (draining)' : 'no (pools errored)';
    const pools = view.pools.map((p) => `${p.name} ${p.runningRevisions?.join('+') || '-'} / ${p.revision}`).join(', ');
    rows.push([view.name, accepting, String(view.node.sessions), pools]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  return `${lines.join('\n')}\n${views.length} node${views.length === 1 ? '' : 's'}, ${total} session${total === 1 ? '' : 's'} in all\n`;
}

/** Node after node; within a node, each pool out of step gets one detach-and-sync. */
async function rollingSync(clients: ReadonlyArray<{ node: FleetNodeAccess; client: ControlClient }>, out: (text: string) => unknown): Promise<number> {
  const done: string[] = [];
  for (const { node, client } of clients) {
    let plans;
    try {
      plans = await client.pools.plan.query();
    } catch (error) {
      return stopped(out, node.name, `its control API did not answer: ${(error as Error).message}`, done);
    }
    if (plans.configError !== null) return stopped(out, node.name, `its configuration does not load: ${plans.configError}`, done);
    const due = plans.pools.filter((plan) => !plan.upToDate);
    if (due.length === 0) {
      out(`node ${node.name}: up to date\n`);
      continue;
    }
    for (const plan of due) {
      const workers = await client.workers.list.query();
      const first = workers.find((w) => w.pool === plan.pool && w.state === 'started');
      if (first === undefined) return stopped(out, node.name, `pool ${plan.pool} has no started worker to replace`, done);
      out(`node ${node.name}: detach and sync of pool ${plan.pool} (${first.id} …) to revision ${plan.revision}…\n`);
      try {
        const result = await client.workers.detachAndSync.mutate({ worker: first.id });
        out(`node ${node.name}: ${result.allStarted.map((w) => w.id).join(', ')} ready on ${plan.revision}; ${result.allDetached.map((w) => w.id).join(', ')} draining\n`);
      } catch (error) {
        return stopped(out, node.name, (error as Error).message, done);
      }
    }
    done.push(node.name);
  }
  out(`fleet sync done: ${done.length === 0 ? 'every node was up to date' : `upgraded ${done.join(', ')}`}\n`);
  return EXIT_OK;
}

function stopped(out: (text: string) => unknown, node: string, why: string, done: readonly string[]): number {
  out(`fleet sync stopped at node ${node}: ${why}\n${done.length === 0 ? 'no node was changed' : `already upgraded: ${done.join(', ')}`}; the nodes after it were not touched\n`);
  return EXIT_FAILURE;
}
