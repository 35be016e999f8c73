/**
 * A pool of several instances as users run one: every started instance takes new sessions (the
 * one with the fewest first), sessions never move, and per-instance counts are each the app's own.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client, FIXTURES, TestSupervisor } from './harness';

const APP = join(FIXTURES, 'cookie-app.mjs');
const pool = (revision: string, instances: number) => ({ command: `node ${JSON.stringify(APP)}`, sessionCookie: 'JSESSIONID', revision, instances });

describe('instances > 1', () => {
  it('new sessions spread over the started instances (30 visitors on 3 → 10 each), and each stays on its own', async () => {
    await using harness = await TestSupervisor.launch(pool('v1', 3));
    const ids = ['web@0', 'web@1', 'web@2'];
    expect(harness.supervisor.listWorkers().filter((w) => w.state === 'started').map((w) => w.id)).toEqual(ids);

    const visitors = Array.from({ length: 30 }, () => new Client(harness.proxyUrl));
    const firstWorker = new Map<Client, string>();
    for (const visitor of visitors) firstWorker.set(visitor, ((await visitor.get('/cart')).json as { worker: string }).worker);
    expect(ids.map((id) => harness.worker(id).sessions)).toEqual([10, 10, 10]);
    for (const visitor of visitors.slice(0, 6)) {
      expect(((await visitor.get('/cart')).json as { worker: string }).worker).toBe(firstWorker.get(visitor));
    }
  });
});

describe('detach-and-sync of a pool of several instances', () => {
  it('starts one successor per instance and switches new sessions to all of them at once; old sessions stay, the old workers drain', async () => {
    await using harness = await TestSupervisor.launch(pool('v1', 3));
    const alice = new Client(harness.proxyUrl);
    const aliceWorker = ((await alice.get('/cart')).json as { worker: string }).worker;

    await harness.writeConfig(pool('v2', 3));
    const result = await harness.supervisor.detachAndSync('web@0', 'operator');
    expect(result.allStarted.map((w) => w.id).sort()).toEqual(['web@3', 'web@4', 'web@5']);
    expect(result.allDetached.map((w) => w.id).sort()).toEqual(['web@0', 'web@1', 'web@2']);
    const started = harness.supervisor.listWorkers().filter((w) => w.state === 'started');
    expect(started.map((w) => [w.id, w.revision])).toEqual([['web@3', 'v2'], ['web@4', 'v2'], ['web@5', 'v2']]);

    // No moment with a mix: the three successors became targets, and the three old workers were
    // detached, in one go — six events in a row, after the last successor was ready.
    const from = harness.events.findIndex((e) => e.type === 'worker.starting' && e.worker === 'web@3');
    const lifecycle = harness.events.slice(from).filter((e) => ['worker.starting', 'worker.started', 'worker.detached'].includes(e.type));
    expect(lifecycle.map((e) => e.type)).toEqual([
      ...Array(3).fill('worker.starting'),
      ...Array(3).fill('worker.detached'),
      ...Array(3).fill('worker.started'),
    ]);
    const switchIds = lifecycle.slice(3).map((e) => e.id);
    expect(switchIds.at(-1)! - switchIds[0]!).toBe(5);

    const visitors = Array.from({ length: 9 }, () => new Client(harness.proxyUrl));
    for (const visitor of visitors) await visitor.get('/cart');
    expect(['web@3', 'web@4', 'web@5'].map((id) => harness.worker(id).sessions)).toEqual([3, 3, 3]);
    expect(((await alice.get('/cart')).json as { worker: string }).worker).toBe(aliceWorker);
    // The old workers without sessions have drained and stopped by themselves.
    for (const id of ['web@0', 'web@1', 'web@2'].filter((w) => w !== aliceWorker)) {
      await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === id);
    }
    expect(harness.worker(aliceWorker).state).toBe('detached');
  });

  it('if one successor fails, the others are stopped again and every old worker keeps taking new sessions', async () => {
    const failing = (revision: string) => ({
      ...pool(revision, 3),
      command: `if [ "$HANDOVER_WORKER" = web@4 ]; then exec node ${JSON.stringify(join(FIXTURES, 'fail-app.mjs'))}; fi; exec node ${JSON.stringify(APP)}`,
      healthCheck: { path: '/healthz', timeoutSeconds: 10, intervalMs: 50 },
    });
    await using harness = await TestSupervisor.launch(failing('v1'));
    await harness.writeConfig(failing('v2'));
    await expect(harness.supervisor.detachAndSync('web@0', 'operator')).rejects.toThrow(/web@4 \(revision v2\) failed to start, so web@0 stays attached/);
    const rows = Object.fromEntries(harness.supervisor.listWorkers().map((w) => [w.id, w.state]));
    expect(rows).toMatchObject({ 'web@0': 'started', 'web@1': 'started', 'web@2': 'started', 'web@4': 'failed' });
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@3');
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@5');
    const visitors = Array.from({ length: 6 }, () => new Client(harness.proxyUrl));
    for (const visitor of visitors) expect(((await visitor.get('/cart')).json as { worker: string }).worker).toMatch(/^web@[012]$/);
  });
});
