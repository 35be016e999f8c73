/** A real HAProxy (Debian's) for the fleet tests, on a port chosen now, with the config it is given. */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asyncResource } from '../../../../test-support/resources';
import { exitOf, startOnFreePort } from '../../../../test-support/ports';
import { type FleetNode, haproxyConfig, parseNode } from '../../src/fleet/haproxy-config';
import type { TestSupervisor } from '../harness';

/** `haproxy -db -f <dir>/haproxy.cfg`, the file written by `config(port)` before each attempt; stopped on dispose. */
export async function startHaproxy(dir: string, config: (port: number) => string) {
  const file = join(dir, 'haproxy.cfg');
  const { child, port } = await startOnFreePort(
    'haproxy',
    (p) => {
      writeFileSync(file, config(p));
      return spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    },
    async (p) => (await fetch(`http://127.0.0.1:${p}/healthz`).catch(() => undefined)) !== undefined,
    20_000,
  );
  return asyncResource({ port, url: `http://127.0.0.1:${port}`, file }, async () => {
    const exited = exitOf(child);
    child.kill('SIGTERM');
    await exited;
  });
}

/** HAProxy with the generated configuration in front of these nodes (health checked every 100 ms). */
export function startFront(dir: string, nodes: readonly FleetNode[]) {
  return startHaproxy(dir, (port) => haproxyConfig({ listen: { host: '127.0.0.1', port }, nodes, checkIntervalMs: 100 }));
}

/** A running test supervisor as a fleet node: its proxy, and its control port for /node-health. */
export function nodeOf(harness: TestSupervisor, name: string): FleetNode {
  return parseNode(`${name}=127.0.0.1:${harness.proxyPort}@127.0.0.1:${harness.running.control.port}`);
}
