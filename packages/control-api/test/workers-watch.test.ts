import type { WorkersSnapshot } from '@handover/process-table';
import { describe, expect, it } from 'vitest';
import { createControlClient } from '../src/client';
import { watchWorkers } from '../src/workers-watch';
import { FakeSupervisor } from './fake-supervisor';
import { TOKEN, startHarness, waitFor } from './helpers';

describe('watchWorkers', () => {
  it('yields a snapshot at once, then only when something changed, and ends on abort', async () => {
    const fake = new FakeSupervisor();
    const abort = new AbortController();
    const iterator = watchWorkers(fake, abort.signal, 5);
    const first = await iterator.next();
    expect((first.value as WorkersSnapshot).workers.map((w) => w.id)).toEqual(['web@0', 'web@1']);

    const next = iterator.next();
    let settled = false;
    void next.then(() => (settled = true));
    // Nothing changed: several sampling intervals pass without a new snapshot.
    await waitFor(() => fake.calls.filter((c) => c.method === 'listWorkers').length >= 5);
    expect(settled).toBe(false);

    fake.workers.get('web@0')!.sessions = 42;
    const changed = await next;
    expect((changed.value as WorkersSnapshot).workers.find((w) => w.id === 'web@0')?.sessions).toBe(42);

    const ending = iterator.next();
    abort.abort();
    expect((await ending).done).toBe(true);
  });
});

describe('workers.watch and workers.history over HTTP', () => {
  it('pushes a new snapshot through SSE when a session count changes', async () => {
    await using h = await startHarness();
    const client = createControlClient({ url: h.server.url, token: TOKEN, actor: 'cli:tester' });
    const snapshots: WorkersSnapshot[] = [];
    const sub = client.workers.watch.subscribe(undefined, { onData: (snapshot) => snapshots.push(snapshot) });
    try {
      await waitFor(() => snapshots.length >= 1);
      expect(snapshots[0]!.pools[0]!.name).toBe('web');
      h.fake.workers.get('web@0')!.sessions = 7;
      await waitFor(() => snapshots.at(-1)!.workers.find((w) => w.id === 'web@0')?.sessions === 7);
    } finally {
      sub.unsubscribe();
    }
  });

  it('returns the session history', async () => {
    await using h = await startHarness();
    const client = createControlClient({ url: h.server.url, token: TOKEN, actor: 'cli:tester' });
    const history = await client.workers.history.query();
    expect(history).toHaveLength(3);
    expect(history.at(-1)!.sessions).toEqual({ 'web@0': 3, 'web@1': 1 });
  });

  it('refuses both without the token', async () => {
    await using h = await startHarness();
    const response = await fetch(`${h.server.url}trpc/workers.history`);
    expect(response.status).toBe(401);
  });
});
