/**
 * `handover fleet status|sync` against two real Handover nodes behind a real HAProxy, with users
 * clicking through the front the whole time: the rolling detach-and-sync upgrades node after
 * node without a failed request or a lost counter, and stops at the first node that fails.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../../test-support/resources';
import { runCli } from '../../src/cli/run';
import { FIXTURES, TestSupervisor, demoPool } from '../harness';
import { clickLoad } from './click-load';
import { nodeOf, startFront } from './haproxy';

const TOKEN = 'test-token-0123456789abcdef'; // the harness's control token

async function fleetCli(dir: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli([...argv, '--fleet', join(dir, 'handover.fleet.json')], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
    cwd: dir,
    username: 'ops',
  });
  return { code, stdout, stderr };
}

describe('handover fleet', () => {
  it('status shows every node; sync upgrades them one after the other while users click, with 0 failed requests', async () => {
    await using dir = await tempDir('handover-fleet-');
    await using a = await TestSupervisor.launch(demoPool('v1'));
    await using b = await TestSupervisor.launch(demoPool('v1'));
    await using front = await startFront(dir.path, [nodeOf(a, 'a'), nodeOf(b, 'b')]);
    await writeFile(
      join(dir.path, 'handover.fleet.json'),
      JSON.stringify({ nodes: [{ name: 'a', control: a.running.control.url, token: TOKEN }, { name: 'b', control: b.running.control.url, token: TOKEN }] }),
    );

    const status = await fleetCli(dir.path, ['fleet', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^a +yes +0 +web v1 \/ v1$/m);
    expect(status.stdout).toMatch(/^b +yes +0 +web v1 \/ v1$/m);

    const load = clickLoad(front.url, 6);
    await a.writeConfig(demoPool('v2'));
    await b.writeConfig(demoPool('v2'));
    const sync = await fleetCli(dir.path, ['fleet', 'sync']);
    const { requests, failures } = await load.stop();
    expect(sync.stdout).toMatch(/node a: web@1 ready on v2; web@0 draining\nnode b: detach and sync/);
    expect(sync.stdout).toMatch(/fleet sync done: upgraded a, b/);
    expect(sync.code).toBe(0);
    expect(failures.slice(0, 5), `${failures.length} failed of ${requests}`).toEqual([]);
    expect(requests).toBeGreaterThan(12);
    for (const h of [a, b]) {
      expect(h.supervisor.listWorkers().filter((w) => w.state === 'started').map((w) => w.revision)).toEqual(['v2']);
      expect(h.events.some((e) => e.type === 'action' && e.actor === 'cli:ops (fleet)')).toBe(true);
    }
    // Nothing left to do: a second sync says so and touches nothing.
    expect((await fleetCli(dir.path, ['fleet', 'sync'])).stdout).toMatch(/node a: up to date\nnode b: up to date\nfleet sync done: every node was up to date/);
  });

  it('sync stops at the first node whose successor fails, and leaves the nodes after it alone', async () => {
    await using dir = await tempDir('handover-fleet-');
    await using a = await TestSupervisor.launch(demoPool('v1'));
    await using b = await TestSupervisor.launch(demoPool('v1'));
    await using c = await TestSupervisor.launch(demoPool('v1'));
    await writeFile(
      join(dir.path, 'handover.fleet.json'),
      JSON.stringify({ nodes: [a, b, c].map((h, i) => ({ name: 'abc'[i], control: h.running.control.url, token: TOKEN })) }),
    );
    await a.writeConfig(demoPool('v2'));
    await b.writeConfig({ ...demoPool('v2'), command: `node ${JSON.stringify(join(FIXTURES, 'fail-app.mjs'))}`, healthCheck: { path: '/healthz', timeoutSeconds: 5, intervalMs: 50 } });
    await c.writeConfig(demoPool('v2'));
    const sync = await fleetCli(dir.path, ['fleet', 'sync']);
    expect(sync.code).toBe(1);
    expect(sync.stdout).toMatch(/fleet sync stopped at node b: web@1 \(revision v2\) failed to start, so web@0 stays attached/);
    expect(sync.stdout).toMatch(/already upgraded: a; the nodes after it were not touched/);
    expect(c.supervisor.listWorkers().map((w) => [w.id, w.revision])).toEqual([['web@0', 'v1']]);
  });
});
