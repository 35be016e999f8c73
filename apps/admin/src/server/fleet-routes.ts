import 'server-only';
import { FleetFileError, describeFailure, fleetClients, fleetSessions, fleetStatus } from '@handover/control-api/fleet';
import { type FleetSource, fleetActor } from './fleet';
import type { FleetSyncRunner } from './fleet-sync-run';
import { guardRequest, plainError } from './request-guard';
import type { ConsoleSession } from './session';

/**
 * `/api/fleet/status` (every node's view, polled by the /fleet page) and `/api/fleet/sync`
 * (POST starts the rolling sync on the server, GET says how it goes). Logged in and
 * same-origin, as every console API; 404 when no fleet is configured.
 */
export interface FleetRouteOptions {
  fleet: FleetSource;
  getSession: (request: Request) => Promise<ConsoleSession | null>;
  fetch?: typeof globalThis.fetch;
  trustedProxyHops?: number;
  /** A node that does not answer within this long shows as unreachable. Default 5 s. */
  nodeTimeoutMs?: number;
}

const NO_STORE = { 'cache-control': 'no-store' };

/** The login and origin checks, then whether there is a fleet at all. */
async function admit(request: Request, options: FleetRouteOptions): Promise<Response | ConsoleSession> {
  const guard = await guardRequest(request, options);
  if ('refused' in guard) return plainError(guard.refused, guard.message);
  if ((await options.fleet.path()) === null) return plainError(404, 'no fleet is configured: set HANDOVER_FLEET to a fleet file for the console');
  return guard.session;
}

export function createFleetStatusRoute(options: FleetRouteOptions): (request: Request) => Promise<Response> {
  return async (request) => {
    const admitted = await admit(request, options);
    if (admitted instanceof Response) return admitted;
    let nodes;
    try {
      nodes = await options.fleet.nodes();
    } catch (error) {
      if (error instanceof FleetFileError) return plainError(503, error.message);
      return plainError(503, describeFailure(error));
    }
    const clients = fleetClients(nodes, { actor: (node) => fleetActor(admitted.user, node.name), timeoutMs: options.nodeTimeoutMs ?? 5000, fetch: options.fetch });
    const views = await fleetStatus(clients);
    return Response.json({ at: new Date().toISOString(), nodes: views, totalSessions: fleetSessions(views) }, { headers: NO_STORE });
  };
}

export function createFleetSyncRoute(options: FleetRouteOptions & { runner: FleetSyncRunner }) {
  return {
    async GET(request: Request): Promise<Response> {
      const admitted = await admit(request, options);
      if (admitted instanceof Response) return admitted;
      return Response.json({ run: options.runner.current() }, { headers: NO_STORE });
    },
    /** No body is read: there is nothing to choose, the fleet file says which nodes and in which order. */
    async POST(request: Request): Promise<Response> {
      const admitted = await admit(request, options);
      if (admitted instanceof Response) return admitted;
      const { started, run } = options.runner.start(admitted.user);
      if (!started) return plainError(409, `a rolling sync is running already (started by ${run.startedBy} at ${run.startedAt})`, { run });
      return Response.json({ run }, { status: 202, headers: NO_STORE });
    },
  };
}
