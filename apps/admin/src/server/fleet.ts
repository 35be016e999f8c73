import 'server-only';
import path from 'node:path';
import { FLEET_FILE_ENV, type FleetNodeAccess, isNodeName, readFleetFile } from '@handover/control-api/fleet';
import type { ControlConnection } from './control-connection';
import { findRepoRoot, handoverConfig } from './environment';

/**
 * The nodes of the fleet view: `HANDOVER_FLEET` names a fleet file (relative to the repository
 * root, as `HANDOVER_CONFIG`), the same file `handover fleet` reads. Read again on every use:
 * it is small, and an edit (a new node, a rotated token file) applies without a restart.
 */
export interface FleetSource {
  /** The fleet file's path, or null: no fleet configured (the console drives its one supervisor). */
  path(): Promise<string | null>;
  /** The nodes; throws FleetFileError (with the reason) when the file is wrong. */
  nodes(): Promise<FleetNodeAccess[]>;
}

export function createFleetSource(options: { env?: NodeJS.ProcessEnv; cwd?: string; loadEnv?: () => Promise<unknown> } = {}): FleetSource {
  const env = options.env ?? process.env;
  const filePath = async (): Promise<string | null> => {
    // The root .env (loaded with the configuration) may be where HANDOVER_FLEET is set.
    await (options.loadEnv ?? handoverConfig)().catch(() => {});
    const value = env[FLEET_FILE_ENV]?.trim();
    return value ? path.resolve(/*turbopackIgnore: true*/ findRepoRoot(options.cwd), value) : null;
  };
  return {
    path: filePath,
    async nodes() {
      const file = await filePath();
      if (file === null) return [];
      return readFleetFile(file, env);
    },
  };
}

let shared: FleetSource | null = null;

/** The fleet of this console process. */
export function fleetSource(): FleetSource {
  shared ??= createFleetSource();
  return shared;
}

/** The node of that name in the fleet file (the name checked before the file is read), or null. */
export async function findNode(source: FleetSource, name: string): Promise<FleetNodeAccess | null> {
  if (!isNodeName(name)) return null;
  return (await source.nodes()).find((node) => node.name === name) ?? null;
}

/** What a node's own event log records as the actor of an operator's action from the fleet view. */
export function fleetActor(user: string, node: string): string {
  return `console:${user} (fleet, node ${node})`;
}

/**
 * A node's control API as the pass-through wants it. The token is read from the fleet file on
 * every request, so `forgetToken` has nothing to forget.
 */
export function nodeConnection(node: FleetNodeAccess): ControlConnection {
  const url = `${node.control.replace(/\/+$/, '')}/`;
  return {
    target: async () => ({ url, token: node.token }),
    forgetToken() {},
    describe: async () => url,
  };
}
