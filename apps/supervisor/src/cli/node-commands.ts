/**
 * The node in a fleet behind HAProxy: `handover node drain|ready|status` (through the control
 * API) and `handover haproxy-config` (prints the front's configuration; needs no supervisor).
 */
import type { NodeStatus } from '@handover/process-table';
import { FleetArgumentError, haproxyConfig, parseAddress, parseNode } from '../fleet/haproxy-config';
import type { CliOptions } from './arguments';
import type { CommandSpec } from './commands';
import type { CommandContext } from './context';
import { UsageError } from './errors';
import { EXIT_OK, type CliIO } from './io';

export async function node({ client, json, out, printJson, target }: CommandContext): Promise<number> {
  const action = target.nodeAction!;
  const status =
    action === 'drain' ? await client.node.drain.mutate() : action === 'ready' ? await client.node.ready.mutate() : await client.node.status.query();
  if (json) printJson(status);
  else out(formatNodeStatus(status, action));
  return EXIT_OK;
}

export function formatNodeStatus(status: NodeStatus, action: string): string {
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  const holds = `${plural(status.sessions, 'session')}, ${plural(status.inFlight, 'request')} in flight, ${plural(status.webSockets, 'WebSocket')}`;
  if (status.drained) return `node drained (since ${status.drainingSince}, by ${status.drainedBy}): nothing left, it can be taken down; \`handover node ready\` puts it back\n`;
  if (status.draining) {
    const lead = action === 'drain' ? 'node draining: the front sends it no new clients, its own keep coming' : `node draining since ${status.drainingSince} (by ${status.drainedBy})`;
    return `${lead}; it holds ${holds}. \`handover node status\` says when it has drained.\n`;
  }
  if (status.allPoolsErrored) return `node takes no new clients: every pool is errored (crash loop); it holds ${holds}. Fix the app and \`handover sync\`.\n`;
  return `node ready: takes new clients; it holds ${holds}\n`;
}

/** `haproxy-config --listen HOST:PORT --node NAME=HOST:PORT[@CONTROLHOST:PORT] … [--stats HOST:PORT]`. */
export function printHaproxyConfig(io: CliIO, values: CliOptions, spec: CommandSpec): number {
  try {
    if (values.listen === undefined) throw new FleetArgumentError('--listen HOST:PORT is needed (where HAProxy takes clients)');
    const text = haproxyConfig({
      listen: parseAddress(values.listen, '--listen'),
      nodes: (values.node ?? []).map(parseNode),
      ...(values.stats === undefined ? {} : { stats: parseAddress(values.stats, '--stats') }),
    });
    io.stdout.write(text);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof FleetArgumentError) throw new UsageError(`haproxy-config: ${error.message}`, spec.usage);
    throw error;
  }
}
