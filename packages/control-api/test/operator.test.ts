/**
 * The procedures of #10 over the wire: event filters (list, live, the NDJSON export), the sync
 * plan, the drain detail and "stop now", the history's window. The behaviour behind them is the
 * contract's (apps/supervisor/test/control-contract.test.ts); here: inputs, refusals, shapes.
 */
import { describe, expect, it } from 'vitest';
import type { HandoverEvent } from '@handover/process-table';
import { createControlClient } from '../src/client';
import { json, startHarness, TOKEN } from './helpers';

function seed(record: (type: 'worker.stopped' | 'worker.started' | 'action' | 'pool.synced', message: string, patch: Partial<HandoverEvent>) => unknown): void {
  record('worker.started', 'a', { pool: 'web', worker: 'web@0' });
  record('action', 'b', { actor: 'cli:alice', pool: 'web', worker: 'web@0' });
  record('worker.stopped', 'c', { pool: 'web', worker: 'web@1' });
  record('pool.synced', 'd', { actor: 'cli:bob', pool: 'api' });
  record('worker.started', 'e', { pool: 'api', worker: 'api@0' });
}

describe('event filters', () => {
  it('events.list filters by worker, pool, type (exact or prefix) and actor', async () => {
    await using h = await startHarness();
    seed((type, message, patch) => h.fake.record(type, message, patch));
    const client = createControlClient({ url: h.server.url, token: TOKEN, actor: 'tester' });
    const messages = async (input: Parameters<typeof client.events.list.query>[0]) => (await client.events.list.query(input)).map((e) => e.message);
    expect(await messages({ worker: 'web@0' })).toEqual(['a', 'b']);
    expect(await messages({ pool: 'api' })).toEqual(['d', 'e']);
    expect(await messages({ type: 'worker.' })).toEqual(['a', 'c', 'e']);
    expect(await messages({ type: 'worker.*' })).toEqual(['a', 'c', 'e']);
    expect(await messages({ type: 'worker.started', pool: 'api' })).toEqual(['e']);
    expect(await messages({ actor: 'cli:alice' })).toEqual(['b']);
    expect(await messages({ type: 'worker.', limit: 1 })).toEqual(['e']);
    expect(await messages({ type: 'worker.', afterId: 1 })).toEqual(['c', 'e']);
  });

  it('refuses a malformed filter with a 400 naming the field', async () => {
    await using h = await startHarness();
    for (const [input, field] of [
      [{ worker: 'nope' }, 'worker'],
      [{ pool: 'Web!' }, 'pool'],
      [{ type: 'worker.%' }, 'type'],
      [{ type: '*' }, 'type'],
      [{ actor: '' }, 'actor'],
    ] as const) {
      const res = await h.call(`/trpc/events.list?input=${encodeURIComponent(JSON.stringify(input))}`);
      expect(res.status, JSON.stringify(input)).toBe(400);
      expect(((await json(res)) as any).error.data.issues[0].path).toBe(field);
    }
    const live = await h.call(`/trpc/events.live?input=${encodeURIComponent(JSON.stringify({ type: 'x y' }))}`);
    expect(live.status).toBe(400);
  });

  it('events.live replays and streams only matching events', async () => {
    await using h = await startHarness();
    seed((type, message, patch) => h.fake.record(type, message, patch));
    const client = createControlClient({ url: h.server.url, token: TOKEN, actor: 'tester' });
    const got: string[] = [];
    const done = new Promise<void>((resolve) => {
      const sub = client.events.live.subscribe(
        { lastEventId: '0', type: 'worker.' },
        {
          onData: ({ data }) => {
            got.push(data.message);
            if (got.length === 4) {
              sub.unsubscribe();
              resolve();
            }
          },
        },
      );
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
    h.fake.record('action', 'not me', {});
    h.fake.record('worker.detached', 'f', { pool: 'web', worker: 'web@2' });
    await done;
    expect(got).toEqual(['a', 'c', 'e', 'f']);
  });

  it('GET /events.ndjson streams the (filtered) log as JSON lines, with the token', async () => {
    await using h = await startHarness();
    for (let i = 1; i <= 2500; i++) h.fake.record(i % 2 === 0 ? 'worker.started' : 'action', `e${i}`, { pool: 'web' });
    const res = await h.call('/events.ndjson');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(res.headers.get('content-disposition')).toContain('attachment');
    const lines = (await res.text()).trim().split('\n');
    expect(lines).toHaveLength(2500);
    expect(JSON.parse(lines[2499]!)).toMatchObject({ id: 2500, message: 'e2500' });

    const filtered = (await (await h.call('/events.ndjson?type=worker.&afterId=2000')).text()).trim().split('\n');
    expect(filtered.map((l) => JSON.parse(l).message)).toEqual(Array.from({ length: 250 }, (_, i) => `e${2002 + i * 2}`));
    expect(await (await h.call('/events.ndjson?worker=web@9')).text()).toBe('');

    expect((await h.call('/events.ndjson', { auth: false })).status).toBe(401);
    const bad = await h.call('/events.ndjson?worker=x');
    expect(bad.status).toBe(400);
    expect(((await json(bad)) as any).error.message).toMatch(/^invalid input: worker: /);
    expect((await h.call('/events.ndjson?color=red')).status).toBe(400);
    expect((await h.call('/events.ndjson?pool=web&pool=api')).status).toBe(400);
    expect((await h.call('/events.ndjson', { method: 'POST' })).status).toBe(405);
  });
});

describe('operator procedures', () => {
  it('pools.plan, workers.drain, workers.stopNow, workers.history {minutes}, workers.markers', async () => {
    await using h = await startHarness();
    const client = createControlClient({ url: h.server.url, token: TOKEN, actor: 'cli:alice' });
    const plan = await client.pools.plan.query({ pool: 'web' });
    expect(plan).toMatchObject({ configError: null, pools: [{ pool: 'web', revision: 'v2', start: 1, detach: ['web@0'], upToDate: false }] });
    expect(h.fake.calls.some((c) => c.method === 'sync')).toBe(false);

    const drain = await client.workers.drain.query({ worker: 'web@1', limit: 5 });
    expect(drain).toMatchObject({ worker: 'web@1', state: 'detached', sessions: 1, etaBasis: 'sessions', truncated: false });
    expect(drain.remaining[0]!.id).toMatch(/^.{6}…$/);
    expect((await h.call(`/trpc/workers.drain?input=${encodeURIComponent(JSON.stringify({ worker: 'web@1', limit: 5000 }))}`)).status).toBe(400);

    const refused = await h.post('/trpc/workers.stopNow', { worker: 'web@0' });
    expect(refused.status).toBe(412);
    const stopped = await client.workers.stopNow.mutate({ worker: 'web@1' });
    expect(stopped).toMatchObject({ id: 'web@1', state: 'stopped' });
    expect(h.fake.events.find((e) => e.type === 'sessions.lost')).toMatchObject({ actor: 'cli:alice', data: { reason: 'stopped-now', count: 1 } });
    expect((await h.call('/trpc/workers.stopNow?input=%7B%7D')).status).toBe(405);

    expect(await client.workers.history.query({ minutes: 60 })).toHaveLength(3);
    expect(h.fake.calls.filter((c) => c.method === 'sessionHistory').map((c) => c.args)).toEqual([[{ minutes: 60 }]]);
    await client.workers.history.query();
    expect(h.fake.calls.filter((c) => c.method === 'sessionHistory').at(-1)!.args).toEqual([{ minutes: 10 }]);
    expect((await h.call(`/trpc/workers.history?input=${encodeURIComponent(JSON.stringify({ minutes: 2000 }))}`)).status).toBe(400);
    expect((await client.workers.markers.query({ minutes: 5 })).map((m) => m.worker)).toEqual(['web@0', 'web@1']);
  });
});
