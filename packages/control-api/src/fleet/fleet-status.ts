/**
 * Every node of a fleet through its own control API: what `handover fleet status` prints and
 * the console's /fleet page shows. A node that does not answer is a view with its error, never
 * a failure of the whole fleet.
 */
import type { NodeStatus, PoolInfo, WorkerInfo } from '@handover/process-table';
import { type ControlClient, createControlClient } from '../client';
import type { FleetNodeAccess } from './fleet-file';

export interface FleetNodeView {
  name: string;
  control: string;
  /** Why the node could not be read; null when it answered. */
  error: string | null;
  node: NodeStatus | null;
  pools: PoolInfo[];
  workers: WorkerInfo[];
}

export interface FleetClient {
  node: FleetNodeAccess;
  client: ControlClient;
}

export interface FleetClientOptions {
  /** Who acts, per node (each node's event log records it). */
  actor: (node: FleetNodeAccess) => string;
  /** Give up on a request after this long (a node that hangs must not hang the view). Default: none. */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
}

export function fleetClients(nodes: readonly FleetNodeAccess[], options: FleetClientOptions): FleetClient[] {
  const baseFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs;
  const fetch: typeof globalThis.fetch =
    timeoutMs === undefined
      ? baseFetch
      : (input, init) => {
          const timeout = AbortSignal.timeout(timeoutMs);
          return baseFetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
        };
  return nodes.map((node) => ({ node, client: createControlClient({ url: node.control, token: node.token, actor: options.actor(node), fetch }) }));
}

/** `fetch failed` says nothing: add the code of the first cause that has one (ECONNREFUSED, a timeout). */
export function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  let detail: string | undefined;
  // tRPC's error wraps fetch's TypeError, which wraps the socket's error: a few levels at most.
  for (let cause = (error as { cause?: unknown } | null)?.cause, depth = 0; cause != null && depth < 5 && detail === undefined; depth++) {
    const { code, name } = cause as { code?: unknown; name?: unknown };
    if (typeof code === 'string') detail = code;
    else if (name === 'TimeoutError') detail = 'no answer in time';
    cause = (cause as { cause?: unknown }).cause;
  }
  return detail !== undefined && !message.includes(detail) ? `${message} (${detail})` : message;
}

export async function nodeView({ node, client }: FleetClient): Promise<FleetNodeView> {
  try {
    const [status, pools, workers] = await Promise.all([client.node.status.query(), client.pools.list.query(), client.workers.list.query()]);
    return { name: node.name, control: node.control, error: null, node: status, pools, workers };
  } catch (error) {
    return { name: node.name, control: node.control, error: describeFailure(error), node: null, pools: [], workers: [] };
  }
}

/** Every node at once, in the fleet file's order. */
export function fleetStatus(clients: readonly FleetClient[]): Promise<FleetNodeView[]> {
  return Promise.all(clients.map(nodeView));
}

/** Sessions across the nodes that answered. */
export function fleetSessions(views: readonly FleetNodeView[]): number {
  return views.reduce((total, view) => total + (view.node?.sessions ?? 0), 0);
}

/** How a node takes clients, in words: `yes`, `no (draining)`, `no (drained)`, `no (pools errored)`. */
export function acceptingText(node: NodeStatus): string {
  return node.accepting ? 'yes' : node.drained ? 'no (drained)' : node.draining ? 'no (draining)' : 'no (pools errored)';
}
