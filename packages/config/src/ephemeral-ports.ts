import { readFile } from 'node:fs/promises';
import type { ConfigWarning } from './errors';

/**
 * The kernel's ephemeral port range: the local ports it hands to outgoing connections that do
 * not bind one themselves. A worker port inside it can be taken by such a connection (the
 * supervisor's own health checks, the worker's database client, anything on the machine)
 * between the supervisor's check that it is free and the worker's listen.
 */
export interface EphemeralPorts {
  /** Inclusive bounds (net.ipv4.ip_local_port_range). */
  low: number;
  high: number;
  /** Inclusive ranges the kernel never hands out (net.ipv4.ip_local_reserved_ports). */
  reserved: Array<[number, number]>;
  /** Where the range came from, for the message. */
  source: string;
}

export const PORT_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';
export const RESERVED_PORTS_FILE = '/proc/sys/net/ipv4/ip_local_reserved_ports';

export const DEFAULT_EPHEMERAL_PORTS: EphemeralPorts = { low: 32768, high: 60999, reserved: [], source: "Linux's default" };

/** A pool whose worker ports reach the range within this many generations is warned about too. */
export const GENERATIONS_AHEAD = 1000;

/** Parses the two /proc files' text ("32768\t60999", "8080,9000-9100" or ""); null when the range is unreadable. */
export function parseEphemeralPorts(rangeText: string, reservedText = '', source = PORT_RANGE_FILE): EphemeralPorts | null {
  const match = /^\s*(\d+)\s+(\d+)\s*$/.exec(rangeText);
  if (!match) return null;
  const low = Number(match[1]);
  const high = Number(match[2]);
  if (low > high) return null;
  const reserved: Array<[number, number]> = [];
  for (const part of reservedText.split(',')) {
    const r = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(part);
    if (r) reserved.push([Number(r[1]), Number(r[2] ?? r[1])]);
  }
  return { low, high, reserved, source };
}

/**
 * The range on this machine (read from /proc), Linux's default when /proc cannot be read on
 * Linux, or null elsewhere (other kernels have other ranges: no check).
 */
export async function readEphemeralPorts(): Promise<EphemeralPorts | null> {
  const fallback = process.platform === 'linux' ? DEFAULT_EPHEMERAL_PORTS : null;
  let rangeText: string;
  try {
    rangeText = await readFile(PORT_RANGE_FILE, 'utf8');
  } catch {
    return fallback;
  }
  const reservedText = await readFile(RESERVED_PORTS_FILE, 'utf8').catch(() => '');
  return parseEphemeralPorts(rangeText, reservedText) ?? fallback;
}

/** One warning per pool whose basePort, or one of its next GENERATIONS_AHEAD worker ports, is ephemeral. */
export function ephemeralPortWarnings(
  pools: ReadonlyArray<{ name: string; basePort: number }>,
  range: EphemeralPorts,
  sources: ReadonlyMap<string, string> = new Map(),
): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  const ephemeral = (port: number) => port >= range.low && port <= range.high && !range.reserved.some(([a, b]) => port >= a && port <= b);
  pools.forEach((pool, i) => {
    const path = `pools[${i}].basePort`;
    const last = Math.min(65535, pool.basePort + GENERATIONS_AHEAD - 1);
    let first: number | null = null;
    for (let port = pool.basePort; port <= last && first === null; port++) if (ephemeral(port)) first = port;
    if (first === null) return;
    const from = sources.has(path) ? ` (from the environment variable ${sources.get(path)})` : '';
    const where = `the ephemeral port range ${range.low}–${range.high} (${range.source})`;
    const why =
      'the kernel gives ports from it to outgoing connections, and one can take a worker port between ' +
      "Handover's check that it is free and the worker's listen, so that start fails with EADDRINUSE";
    const reserve = `or keep the kernel off them: add ${first}-${Math.min(last, range.high)} to net.ipv4.ip_local_reserved_ports (sysctl)`;
    const roomy = range.low - GENERATIONS_AHEAD;
    if (first === pool.basePort) {
      warnings.push({
        path,
        message:
          `${pool.basePort}${from} is inside ${where}: ${why}. ` +
          `Pick a basePort below ${range.low}${roomy > 1024 ? ` (at most ${roomy} leaves room for ${GENERATIONS_AHEAD} generations)` : ''}, ${reserve}`,
      });
    } else {
      const generation = first - pool.basePort;
      warnings.push({
        path,
        message:
          `${pool.basePort}${from} leaves room for ${generation} generation(s): from ${pool.name}@${generation} (port ${first}) on, ` +
          `worker ports are inside ${where}: ${why}. ` +
          `Pick a lower basePort${roomy > 1024 ? ` (at most ${roomy} leaves room for ${GENERATIONS_AHEAD} generations)` : ''}, ${reserve}`,
      });
    }
  });
  return warnings;
}
