import 'server-only';
import { FleetFileError } from '@handover/control-api/fleet';
import { type FleetSource, findNode, fleetActor, nodeConnection } from './fleet';
import type { ConsoleSession } from './session';
import { createPassThrough, type PassThroughTarget } from './trpc-pass-through';

/**
 * `/api/fleet/nodes/<node>/trpc/*`: the browser's tRPC calls to one node of the fleet, with that
 * node's token added here (never sent to the browser) and the operator and node as the actor.
 * The same pass-through as `/api/trpc/*` (login, same-origin, procedure path, body limit,
 * streaming); only the target differs. A node not in the fleet file is a 404.
 */
export const FLEET_NODES_PATH = '/api/fleet/nodes/';

export interface FleetPassThroughOptions {
  fleet: FleetSource;
  getSession: (request: Request) => Promise<ConsoleSession | null>;
  fetch?: typeof globalThis.fetch;
  trustedProxyHops?: number;
}

export function createFleetPassThrough(options: FleetPassThroughOptions): (request: Request) => Promise<Response> {
  return createPassThrough({
    getSession: options.getSession,
    fetch: options.fetch,
    trustedProxyHops: options.trustedProxyHops,
    async target(url): Promise<PassThroughTarget | null> {
      if (!url.pathname.startsWith(FLEET_NODES_PATH)) return null;
      const name = url.pathname.slice(FLEET_NODES_PATH.length).split('/', 1)[0]!;
      let node;
      try {
        node = await findNode(options.fleet, name);
      } catch (error) {
        if (error instanceof FleetFileError) return null;
        throw error;
      }
      if (node === null) return null;
      return { connection: nodeConnection(node), basePath: `${FLEET_NODES_PATH}${name}/trpc/`, actor: (user) => fleetActor(user, node.name) };
    },
  });
}
