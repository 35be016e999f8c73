/**
 * Many machines, on loopback: two real Handover nodes (each a supervisor with its proxy, control
 * API and demo workers) behind a real HAProxy running `handover haproxy-config`'s output. A user
 * stays on her node and her worker through that node's detach-and-sync; draining the node sends
 * every new client to the other while hers keep working, and the node says when it has drained.
 */
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../../test-support/resources';
import { Client, TestSupervisor, demoPool, waitFor } from '../harness';
import { nodeOf, startFront } from './haproxy';

describe('two Handover nodes behind HAProxy', () => {
  it('sticky per node through a detach-and-sync; a drained node keeps its users, takes no new ones, and says when it is empty', async () => {
    await using dir = await tempDir('handover-fleet-');
    await using a = await TestSupervisor.launch(demoPool('v1'));
    await using b = await TestSupervisor.launch(demoPool('v1'));
    const nodes = { a, b } as const;
    await using front = await startFront(dir.path, [nodeOf(a, 'a'), nodeOf(b, 'b')]);

    const alice = new Client(front.url);
    expect((await alice.post('/api/login')).json).toMatchObject({ worker: 'web@0', revision: 'v1' });
    const home = alice.cookies.get('HNODE') as 'a' | 'b';
    expect(['a', 'b']).toContain(home);
    const mine = nodes[home];
    const other = nodes[home === 'a' ? 'b' : 'a'];
    expect(mine.worker('web@0').sessions).toBe(1);

    // Her node upgrades: she stays on its web@0 with her counter; new users there get web@1.
    await mine.writeConfig(demoPool('v2'));
    await mine.supervisor.detachAndSync('web@0', 'operator');
    expect((await alice.post('/api/count')).json).toMatchObject({ worker: 'web@0', revision: 'v1', session: { counter: 1 } });
    expect(alice.cookies.get('HNODE')).toBe(home);

    // Drain her node: new clients all go to the other one; she keeps working where she is.
    const drained = mine.supervisor.drainNode('operator');
    expect(drained).toMatchObject({ draining: true, accepting: false, sessions: 1, drained: false });
    const health = await fetch(`${mine.running.control.url}node-health`);
    expect(health.status).toBe(404);
    await waitFor(async () => {
      const visitors = await Promise.all(Array.from({ length: 4 }, async () => {
        const visitor = new Client(front.url);
        await visitor.get('/api/state');
        return visitor.cookies.get('HNODE');
      }));
      return visitors.every((node) => node !== home) || undefined;
    }, 10_000, 'new clients only on the other node');
    expect((await alice.post('/api/count')).json).toMatchObject({ worker: 'web@0', session: { counter: 2 } });
    expect(other.supervisor.nodeStatus().accepting).toBe(true);

    // Her logout is the node's last session: it reports drained.
    await alice.post('/api/logout');
    await mine.waitForEvent((e) => e.type === 'node.drained');
    expect(mine.supervisor.nodeStatus()).toMatchObject({ drained: true, sessions: 0 });

    // A node cookie naming no node of this front lands on a live one.
    const stale = new Client(front.url);
    stale.cookies.set('HNODE', 'gone');
    expect((await stale.get('/api/state')).status).toBe(200);

    // Back in service.
    mine.supervisor.readyNode('operator');
    expect((await fetch(`${mine.running.control.url}node-health`)).status).toBe(200);
  });
});
