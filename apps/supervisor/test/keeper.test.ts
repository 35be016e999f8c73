import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '@handover/config';
import { inheritedSockets, keptAddresses } from '../src/keeper';
import { REPO_ROOT, randomBasePort } from './harness';

describe('keeper: what it hands to the supervisor', () => {
  it('parses HANDOVER_INHERITED_SOCKETS, skipping anything that is not host:port=fd with fd > 2', () => {
    const sockets = inheritedSockets({ HANDOVER_INHERITED_SOCKETS: '127.0.0.1:8080=4,::1:8081=5,bad,x=1,y=abc,=6' });
    expect([...sockets]).toEqual([
      ['127.0.0.1:8080', 4],
      ['::1:8081', 5],
    ]);
    expect(inheritedSockets({}).size).toBe(0);
    expect(inheritedSockets({ HANDOVER_INHERITED_SOCKETS: '' }).size).toBe(0);
  });

  it('holds the public port of every pool (the first pool on proxy.port) and the control port, never port 0', () => {
    const config = parseConfig(
      {
        proxy: { port: 8080, host: '0.0.0.0' },
        pools: [
          { name: 'web', command: 'x', basePort: 9000, sessionCookie: 'a' },
          { name: 'api', command: 'y', basePort: 9100, sessionCookie: 'b', proxyPort: 8081 },
        ],
      },
      { configPath: '/srv/handover.config.json', env: {} },
    );
    expect(keptAddresses(config)).toEqual([
      { host: '0.0.0.0', port: 8080 },
      { host: '0.0.0.0', port: 8081 },
      { host: '127.0.0.1', port: 8090 },
    ]);
    const zero = { ...config, proxy: { ...config.proxy, port: 0 }, control: { ...config.control, port: 0 }, pools: [config.pools[0]!] };
    expect(keptAddresses(zero)).toEqual([]);
  });

  it('a proxy port another program holds: `handover start` exits 1 saying what to do, and keeps no port', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const controlPort = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'handover-keeper-'));
    try {
      const configPath = join(dir, 'handover.config.json');
      const marker = join(dir, 'worker-ran');
      await writeFile(
        configPath,
        JSON.stringify({
          proxy: { port },
          control: { port: controlPort },
          dataDir: join(dir, 'data'),
          pools: [{ name: 'web', command: `touch ${marker}`, basePort: randomBasePort(), sessionCookie: 'a' }],
        }),
      );
      const child = spawn(process.execPath, [join(REPO_ROOT, 'apps/supervisor/bin/handover.mjs'), 'start', '--config', configPath], {
        env: { ...process.env, HANDOVER_CONTROL_TOKEN: 'keeper-test-token-0123456789abcdef', HANDOVER_KEEPER: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      expect(output).toMatch(new RegExp(`cannot bind 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\): another program uses that port`));
      // Refused by the keeper itself: no supervisor ran, so none could sit on a random port.
      expect(output).not.toMatch(/Handover is running/);
      expect(existsSync(marker)).toBe(false);
      // The control port the keeper held is free again.
      const again = createServer();
      await new Promise<void>((resolve, reject) => again.once('error', reject).listen(controlPort, '127.0.0.1', resolve));
      await new Promise<void>((resolve) => again.close(() => resolve()));
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
