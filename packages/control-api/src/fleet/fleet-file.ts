/**
 * The fleet file: the nodes an operator drives together (`handover fleet …`, the console's
 * /fleet page). Each node is a control API URL and its token (inline, from a file, or from
 * HANDOVER_FLEET_TOKEN_<NAME>):
 *
 *   { "nodes": [ { "name": "a", "control": "http://10.0.0.1:8090", "tokenFile": "/etc/handover/a.token" } ] }
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export interface FleetNodeAccess {
  name: string;
  /** The node's control API, e.g. `http://10.0.0.1:8090`. */
  control: string;
  token: string;
}

export const FLEET_FILE = 'handover.fleet.json';
export const FLEET_FILE_ENV = 'HANDOVER_FLEET';

export class FleetFileError extends Error {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** A node name as the fleet file allows it (also safe in a URL path segment). */
export function isNodeName(value: string): boolean {
  return NAME.test(value);
}

/** Token variable of a node: HANDOVER_FLEET_TOKEN_<NAME>, upper-cased, other characters as `_`. */
export function tokenVariable(name: string): string {
  return `HANDOVER_FLEET_TOKEN_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export async function readFleetFile(path: string, env: NodeJS.ProcessEnv): Promise<FleetNodeAccess[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FleetFileError(
      code === 'ENOENT'
        ? `no fleet file at ${path}: write one ({"nodes":[{"name":"a","control":"http://HOST:8090","tokenFile":"…"}]}) or pass --fleet FILE`
        : `cannot read the fleet file ${path}: ${(error as Error).message}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new FleetFileError(`${path} is not JSON: ${(error as Error).message}`);
  }
  const nodes = (parsed as { nodes?: unknown })?.nodes;
  if (!Array.isArray(nodes) || nodes.length === 0) throw new FleetFileError(`${path}: expected {"nodes": [ … ]} with at least one node`);
  const seen = new Set<string>();
  const result: FleetNodeAccess[] = [];
  for (const [i, raw] of nodes.entries()) {
    const where = `${path}: nodes[${i}]`;
    const node = raw as { name?: unknown; control?: unknown; token?: unknown; tokenFile?: unknown };
    if (typeof node.name !== 'string' || !NAME.test(node.name)) throw new FleetFileError(`${where}.name: expected a name of letters, digits, '.', '_' or '-'`);
    if (seen.has(node.name)) throw new FleetFileError(`${where}.name: ${node.name} appears twice`);
    seen.add(node.name);
    if (typeof node.control !== 'string' || !/^https?:\/\/[^/]+/.test(node.control)) {
      throw new FleetFileError(`${where}.control: expected the node's control API URL, e.g. "http://10.0.0.1:8090"`);
    }
    const token = await tokenOf(node, env, dirname(path), where);
    result.push({ name: node.name, control: node.control, token });
  }
  return result;
}

async function tokenOf(node: { name?: unknown; token?: unknown; tokenFile?: unknown }, env: NodeJS.ProcessEnv, base: string, where: string): Promise<string> {
  const variable = tokenVariable(node.name as string);
  const fromEnv = env[variable]?.trim();
  if (fromEnv) return fromEnv;
  if (typeof node.token === 'string' && node.token.trim() !== '') return node.token.trim();
  if (typeof node.tokenFile === 'string') {
    try {
      return (await readFile(resolve(base, node.tokenFile), 'utf8')).trim();
    } catch (error) {
      throw new FleetFileError(`${where}.tokenFile: cannot read ${node.tokenFile}: ${(error as Error).message}`);
    }
  }
  throw new FleetFileError(`${where}: no token; set ${variable}, or "token" or "tokenFile" (the node's <dataDir>/control-token)`);
}
