/**
 * `handover fleet status|sync`: every node of the fleet file through its own control API. The
 * fleet logic (the file, each node's view, the rolling sync) is `@handover/control-api/fleet`,
 * shared with the console's /fleet page; this is its terminal face. Every action lands in that
 * node's event log with the actor `cli:<user> (fleet)`.
 */
import { join, resolve } from 'node:path';
import {
  FLEET_FILE,
  FLEET_FILE_ENV,
  FleetFileError,
  type FleetNodeAccess,
  type FleetNodeView,
  acceptingText,
  fleetClients,
  fleetSessions,
  fleetStatus,
  readFleetFile,
  rollingSync,
} from '@handover/control-api/fleet';
import type { CliOptions } from './arguments';
import type { CommandSpec } from './commands';
import { safeUsername } from './connect';
import { CliError, UsageError } from './errors';
import { EXIT_FAILURE, EXIT_OK, type CliIO } from './io';

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
  const clients = fleetClients(nodes, { actor: () => actor });
  const out = (text: string) => io.stdout.write(text);
  if (action === 'status') {
    const views = await fleetStatus(clients);
    if (values.json === true) out(`${JSON.stringify(views, null, 2)}\n`);
    else out(formatFleet(views));
    return views.some((view) => view.error !== null) ? EXIT_FAILURE : EXIT_OK;
  }
  const result = await rollingSync(clients, (step) => out(`${step.message}\n`));
  return result.ok ? EXIT_OK : EXIT_FAILURE;
}

export function formatFleet(views: readonly FleetNodeView[]): string {
  const rows = [['NODE', 'TAKES NEW CLIENTS', 'SESSIONS', 'POOLS (running / configured)']];
  for (const view of views) {
    if (view.node === null) {
      rows.push([view.name, `unreachable: ${view.error}`, '-', '-']);
      continue;
    }
    const pools = view.pools.map((p) => `${p.name} ${p.runningRevisions?.join('+') || '-'} / ${p.revision}`).join(', ');
    rows.push([view.name, acceptingText(view.node), String(view.node.sessions), pools]);
  }
  const total = fleetSessions(views);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  return `${lines.join('\n')}\n${views.length} node${views.length === 1 ? '' : 's'}, ${total} session${total === 1 ? '' : 's'} in all\n`;
}
