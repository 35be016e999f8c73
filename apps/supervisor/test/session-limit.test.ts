import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type InstanceState, Lease } from '@handover/process-table';
import type { Upstream } from '@handover/proxy';
import { SessionTable } from '@handover/session-table';
import { StateStore } from '../src/state-store';
import { type AsyncResource, asyncResource } from '../../../test-support/resources';
import { Client, TestSupervisor, demoPool, waitFor } from './harness';

/** A store in a temp dir of its own, closed and removed when the test's block ends. */
async function tempStore(): Promise<AsyncResource<{ store: StateStore }>> {
  const dir = await mkdtemp(join(tmpdir(), 'handover-limit-'));
  const store = new StateStore(join(dir, 'state.db'));
  return asyncResource({ store }, async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
}

function worker(id: string, draining = false): Upstream & { state: InstanceState } {
  return { id, host: '127.0.0.1', port: 1, routable: true, draining, lease: new Lease(), state: 'started' };
}

describe('the session journal stays within maxSessions', () => {
  it('journals neither a session the full table refused nor one it evicted', async () => {
    await using temp = await tempStore();
    const { store } = temp;
    const table = new SessionTable<Upstream & { state: InstanceState }>({ maxSessions: 3 });
    table.subscribe(store); // as the supervisor's pools do
    const old = worker('web@0', true);
    const current = worker('web@1');
    for (const id of ['k1', 'k2']) table.bind(id, old, 60_000); // a detached worker's: never evicted
    for (let i = 0; i < 50; i++) table.bind(`new-${i}`, current, 60_000); // each evicts the one before
    table.pin('new-49', current); // a request under way: now nothing may go
    expect(table.bind('refused', current, 60_000)).toBe(true);
    expect(table.peek('refused')).toBeUndefined();
    await store.drain();
    expect(store.load().sessions.map((s) => s.id).sort()).toEqual(['k1', 'k2', 'new-49']);
  });

  it('streams one worker’s stored sessions (no whole-table load at restore)', async () => {
    await using temp = await tempStore();
    const { store } = temp;
    const a = { id: 'web@0', state: 'started' as InstanceState };
    const b = { id: 'web@1', state: 'started' as InstanceState };
    for (let i = 0; i < 1000; i++) store.bound(`a${i}`, a, 60_000);
    store.bound('b0', b, 30_000);
    await store.drain();
    const seen: string[] = [];
    for (const session of store.sessionsOf('web@0')) seen.push(session.id);
    expect(seen).toHaveLength(1000);
    expect([...store.sessionsOf('web@1')]).toMatchObject([{ id: 'b0', worker: 'web@1', ttlMs: 30_000 }]);
    expect([...store.sessionsOf('web@9')]).toEqual([]);
    // Leaving early closes its read.
    for (const _ of store.sessionsOf('web@0')) break;
    expect(store.readState().workers).toEqual([]);
  });
});

describe('a pool at maxSessions (real supervisor, demo workers)', () => {

  it('keeps at most maxSessions bound and records the limit once, as an event and a warning', async () => {
    await using harness = await TestSupervisor.launch(demoPool('v1', { maxSessions: 5 }));
    for (let i = 0; i < 12; i++) {
      const client = new Client(harness.proxyUrl);
      expect((await client.post('/api/login')).status).toBe(200);
    }
    const event = await harness.waitForEvent((e) => e.type === 'sessions.limit');
    expect(event).toMatchObject({ pool: 'web', data: { maxSessions: 5 } });
    expect(event.message).toMatch(/maxSessions/);
    await waitFor(() => harness.worker('web@0').sessions === 5, 5000, 'five sessions');
    expect(harness.events.filter((e) => e.type === 'sessions.limit')).toHaveLength(1);
  });
});
