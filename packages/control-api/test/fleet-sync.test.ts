import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type FleetNodeAccess, type RollingSyncStep, fleetClients, fleetSessions, fleetStatus, rollingSync } from '../src/fleet';
import { freePort } from '../../../test-support/ports';
import { type Harness, TOKEN, startHarness } from './helpers';

/**
 * The fleet's status view and rolling sync against fake nodes behind real control servers. The
 * fake's pool is configured at v2 while web@0 runs v1, so every node starts out of step.
 */

const access = (name: string, h: Harness): FleetNodeAccess => ({ name, control: h.server.url, token: TOKEN });
const actorOf = (node: FleetNodeAccess) => `console:alice (fleet, node ${node.name})`;

describe('fleet status', () => {
  it('shows each node, says why one cannot be read, and sums the sessions of the others', async () => {
    await using a = await startHarness();
    await using b = await startHarness();
    const dead: FleetNodeAccess = { name: 'c', control: `http://127.0.0.1:${await freePort()}`, token: TOKEN };
    const views = await fleetStatus(fleetClients([access('a', a), access('b', b), dead], { actor: actorOf, timeoutMs: 2000 }));
    expect(views.map((v) => [v.name, v.error === null, v.workers.length])).toEqual([['a', true, 2], ['b', true, 2], ['c', false, 0]]);
    expect(views[2]!.error).toMatch(/ECONNREFUSED/);
    // The fake's web@0 holds 3 sessions and the draining web@1 one: 4 per node.
    expect(fleetSessions(views)).toBe(8);
  });
});

describe('rolling sync', () => {
  it('upgrades node after node, reporting each step, with the node and the operator as actor', async () => {
    await using a = await startHarness();
    await using b = await startHarness();
    const steps: RollingSyncStep[] = [];
    let syncingOnB: number | null = null;
    const result = await rollingSync(fleetClients([access('a', a), access('b', b)], { actor: actorOf }), (step) => {
      steps.push(step);
      // b starts only after a's successor is ready (its `synced` step came first).
      if (step.node === 'b' && step.kind === 'syncing') syncingOnB = steps.findIndex((s) => s.node === 'a' && s.kind === 'synced');
    });
    expect(result).toEqual({ ok: true, upgraded: ['a', 'b'] });
    expect(steps.map((s) => [s.kind, s.node, s.pool])).toEqual([
      ['syncing', 'a', 'web'],
      ['synced', 'a', 'web'],
      ['syncing', 'b', 'web'],
      ['synced', 'b', 'web'],
      ['done', null, null],
    ]);
    expect(syncingOnB).toBe(1);
    expect(steps[1]!.message).toBe('node a: web@2 ready on v2; web@0 draining');
    expect(steps[4]!.message).toBe('fleet sync done: upgraded a, b');
    for (const [name, h] of [['a', a], ['b', b]] as const) {
      expect(h.fake.calls.filter((c) => c.method === 'detachAndSync').map((c) => c.args)).toEqual([['web@0', `console:alice (fleet, node ${name})`]]);
    }
    // Once in step, a second run touches nothing.
    const again: RollingSyncStep[] = [];
    expect(await rollingSync(fleetClients([access('a', a), access('b', b)], { actor: actorOf }), (s) => again.push(s))).toEqual({ ok: true, upgraded: [] });
    expect(again.map((s) => s.message)).toEqual(['node a: up to date', 'node b: up to date', 'fleet sync done: every node was up to date']);
  });

  it('stops at the first failure with the reason, and leaves the nodes after it alone', async () => {
    await using a = await startHarness();
    await using b = await startHarness();
    await using c = await startHarness();
    b.fake.failNextStart = 'it exited during start (exit code 1)';
    const steps: RollingSyncStep[] = [];
    const result = await rollingSync(fleetClients([access('a', a), access('b', b), access('c', c)], { actor: actorOf }), (s) => steps.push(s));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.upgraded).toEqual(['a']);
    expect(result.stoppedAt).toMatchObject({ node: 'b', pool: 'web' });
    expect(result.stoppedAt.reason).toMatch(/failed to start, so web@0 stays attached/);
    expect(steps.at(-1)).toMatchObject({ kind: 'stopped', node: 'b' });
    expect(steps.at(-1)!.message).toMatch(/already upgraded: a; the nodes after it were not touched$/);
    expect(c.fake.calls.some((call) => call.method === 'detachAndSync' || call.method === 'planSync')).toBe(false);
  });

  it('stops at a node whose configuration does not load, or that does not answer', async () => {
    await using a = await startHarness();
    a.fake.configError = 'handover.config.json: Unexpected end of JSON input';
    const broken = await rollingSync(fleetClients([access('a', a)], { actor: actorOf }));
    expect(broken).toMatchObject({ ok: false, upgraded: [], stoppedAt: { node: 'a', reason: expect.stringMatching(/configuration does not load: .*Unexpected end/) } });
    const dead = await rollingSync(fleetClients([{ name: 'z', control: `http://127.0.0.1:${await freePort()}`, token: TOKEN }], { actor: actorOf }));
    expect(dead).toMatchObject({ ok: false, stoppedAt: { node: 'z', reason: expect.stringMatching(/did not answer: .*ECONNREFUSED/) } });
  });

  it('a node that hangs stops the run once its time is up, saying so; the nodes after it are not touched', async () => {
    // Accepts, reads, never answers.
    const sockets = new Set<Socket>();
    const hung = createServer((socket) => (sockets.add(socket), socket.resume()));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    await using _hung = { [Symbol.asyncDispose]: () => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), hung.close(() => resolve()))) };
    await using b = await startHarness();
    const port = (hung.address() as { port: number }).port;
    const began = Date.now();
    const result = await rollingSync(
      fleetClients([{ name: 'h', control: `http://127.0.0.1:${port}`, token: TOKEN }, access('b', b)], { actor: actorOf }),
      () => {},
      { questionTimeoutMs: 300 },
    );
    expect(result).toMatchObject({ ok: false, upgraded: [], stoppedAt: { node: 'h', reason: 'its control API did not answer: it did not answer within 0.3 s' } });
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(b.fake.calls.some((call) => call.method === 'detachAndSync' || call.method === 'planSync')).toBe(false);

    // A detach-and-sync that outlasts its time: stopped, and the node may still finish it.
    let release = () => {};
    b.fake.holdDetachAndSync = new Promise<void>((resolve) => (release = resolve));
    const slow = await rollingSync(fleetClients([access('b', b)], { actor: actorOf }), () => {}, { syncTimeoutMs: 300 });
    release();
    expect(slow).toMatchObject({ ok: false, stoppedAt: { node: 'b', pool: 'web' } });
    if (!slow.ok) expect(slow.stoppedAt.reason).toBe('detach and sync of web@0: it did not answer within 0.3 s (the node may still finish it; see its status)');
  });
});
