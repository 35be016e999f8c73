import { TRPCClientError } from '@trpc/client';
import type { HandoverEvent } from '@handover/process-table';
import { describe, expect, it } from 'vitest';
import { createControlClient, trpcUrl } from '../src/client';
import type { ControlClient } from '../src/client';
import { liveEvents } from '../src/live-events';
import { FakeSupervisor } from './fake-supervisor';
import { TOKEN, json, startHarness, waitFor, type Harness } from './helpers';

/** The typed client the CLI would use, against the harness's server. */
const clientOf = (h: Harness): ControlClient => createControlClient({ url: h.server.url, token: TOKEN, actor: 'cli:tester' });

async function errorOf(promise: Promise<unknown>): Promise<TRPCClientError<never>> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TRPCClientError);
    return error as TRPCClientError<never>;
  }
  throw new Error('expected the call to fail');
}

/** Subscribes to events.live through the typed client, collecting ids. */
function subscribe(c: ControlClient, lastEventId: string | null) {
  const received: HandoverEvent[] = [];
  const trackedIds: string[] = [];
  const errors: unknown[] = [];
  let started = false;
  const sub = c.events.live.subscribe(
    { lastEventId },
    {
      onStarted: () => {
        started = true;
      },
      onData: (envelope) => {
        trackedIds.push(envelope.id);
        received.push(envelope.data);
      },
      onError: (error) => errors.push(error),
    },
  );
  return {
    received,
    trackedIds,
    errors,
    isStarted: () => started,
    ids: () => received.map((e) => e.id),
    unsubscribe: () => sub.unsubscribe(),
  };
}

describe('typed client', () => {
  it('normalizes the URL', () => {
    expect(trpcUrl('http://127.0.0.1:8090')).toBe('http://127.0.0.1:8090/trpc');
    expect(trpcUrl('http://127.0.0.1:8090/')).toBe('http://127.0.0.1:8090/trpc');
    expect(trpcUrl('http://127.0.0.1:8090/trpc/')).toBe('http://127.0.0.1:8090/trpc');
  });

  it('queries and mutates with the token and the actor', async () => {
    await using h = await startHarness();
    const client = clientOf(h);
    expect(await client.health.query()).toEqual({ ok: true });
    const workers = await client.workers.list.query();
    expect(workers.map((w) => `${w.id}:${w.state}`)).toEqual(['web@0:started', 'web@1:detached']);

    const result = await client.workers.detachAndSync.mutate({ worker: 'web@0' });
    expect(result.detached).toMatchObject({ id: 'web@0', state: 'detached' });
    expect(result.started).toMatchObject({ id: 'web@2', revision: 'v2', state: 'started' });
    expect(h.fake.calls.at(-1)).toEqual({ method: 'detachAndSync', args: ['web@0', 'cli:tester'] });

    const reattached = await client.workers.reattach.mutate({ worker: 'web@1' });
    expect(reattached.attached).toBe(true);
    // Rolled back to web@1 (v0) with v2 in the file: a sync replaces it.
    const synced = await client.pools.sync.mutate({ pool: 'web' });
    expect(synced.pools.map((p) => [p.pool, p.started.map((w) => w.id), p.detached?.map((w) => w.id), p.error])).toEqual([
      ['web', ['web@3'], ['web@1'], null],
    ]);
    await client.pools.sync.mutate();
    expect(h.fake.calls.at(-1)).toEqual({ method: 'sync', args: [undefined, 'cli:tester'] });

    expect(await client.workers.logs.query({ worker: 'web@0', lines: 3 })).toHaveLength(3);
    expect((await client.pools.list.query())[0]?.name).toBe('web');
    const events = await client.events.list.query({ limit: 2 });
    expect(events.map((e) => e.type)).toEqual(['action', 'pool.synced']);
  });

  it('surfaces error codes and messages', async () => {
    await using h = await startHarness();
    const client = clientOf(h);
    const notFound = await errorOf(client.workers.detach.mutate({ worker: 'web@7' }));
    expect(notFound.message).toBe('no worker web@7; running workers: web@0, web@1');
    expect(notFound.data).toMatchObject({ code: 'NOT_FOUND', httpStatus: 404 });

    const precondition = await errorOf(client.workers.reattach.mutate({ worker: 'web@0' }));
    expect(precondition.data).toMatchObject({ code: 'PRECONDITION_FAILED', httpStatus: 412 });

    const bad = await errorOf(client.workers.detach.mutate({ worker: 'nope' }));
    expect(bad.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
    expect(bad.message).toMatch(/^invalid input: worker: worker id must look like web@3/);

    const wrong = createControlClient({ url: h.server.url, token: 'not-the-token-at-all' });
    const unauthorized = await errorOf(wrong.workers.list.query());
    expect(unauthorized.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401 });
  });

  it('asks the supervisor to stop, keeping the workers or not, once', async () => {
    await using h = await startHarness();
    const client = clientOf(h);
    const kept = await client.supervisor.stop.mutate({ keepWorkers: true });
    expect(kept).toEqual({ keepWorkers: true, workers: ['web@0', 'web@1'], pid: 4242 });
    expect(h.fake.stopRequested).toEqual({ keepWorkers: true, actor: 'cli:tester' });
    const again = await errorOf(client.supervisor.stop.mutate());
    expect(again.data).toMatchObject({ code: 'CONFLICT', httpStatus: 409 });
    expect(h.fake.calls.filter((c) => c.method === 'stopSupervisor').map((c) => c.args[0])).toEqual([
      { keepWorkers: true },
      { keepWorkers: false },
    ]);
  });

  it('reports a refused connection as a client error with the cause', async () => {
    await using h = await startHarness();
    const url = h.server.url;
    await h.server.close();
    const error = await errorOf(createControlClient({ url, token: TOKEN }).workers.list.query());
    expect(error.data).toBeFalsy();
    expect(String((error.cause as { cause?: unknown } | undefined)?.cause ?? error.cause)).toMatch(/ECONNREFUSED|fetch failed/);
  });
});

describe('events.live over SSE', () => {
  it('replays after lastEventId, then streams live events, in order, through the client', async () => {
    await using h = await startHarness();
    const client = clientOf(h);
    for (let i = 1; i <= 3; i++) h.fake.record('pool.synced', `event ${i}`);
    const sub = subscribe(client, '1');
    try {
      await waitFor(() => sub.ids().length === 2, 5000, 'replay');
      expect(sub.ids()).toEqual([2, 3]);
      await waitFor(() => h.fake.listenerCount() === 1, 5000, 'live listener');
      h.fake.record('worker.detached', 'live 4');
      h.fake.record('worker.stopped', 'live 5');
      await waitFor(() => sub.ids().length === 4, 5000, 'live events');
      expect(sub.ids()).toEqual([2, 3, 4, 5]);
      expect(sub.trackedIds).toEqual(['2', '3', '4', '5']);
      expect(sub.received[2]).toEqual(h.fake.events[3]);
      expect(sub.errors).toEqual([]);
    } finally {
      sub.unsubscribe();
    }
    // the server generator ends and unsubscribes from the supervisor
    await waitFor(() => h.fake.listenerCount() === 0, 5000, 'server-side unsubscribe');

    // resume after id 4: no duplicates, then live
    const resumed = subscribe(client, '4');
    try {
      await waitFor(() => resumed.ids().length === 1, 5000, 'resume replay');
      await waitFor(() => h.fake.listenerCount() === 1, 5000, 'live listener');
      h.fake.record('worker.started', 'live 6');
      await waitFor(() => resumed.ids().length === 2, 5000, 'live after resume');
      expect(resumed.ids()).toEqual([5, 6]);
    } finally {
      resumed.unsubscribe();
    }
  });

  it('without lastEventId sends only live events', async () => {
    await using h = await startHarness();
    const client = clientOf(h);
    h.fake.record('pool.synced', 'old');
    const sub = subscribe(client, null);
    try {
      await waitFor(() => sub.isStarted() && h.fake.listenerCount() === 1, 5000, 'subscription');
      h.fake.record('pool.synced', 'new');
      await waitFor(() => sub.ids().length === 1, 5000, 'live event');
      expect(sub.ids()).toEqual([2]);
    } finally {
      sub.unsubscribe();
    }
  });

  it('refuses a subscription without the token', async () => {
    await using h = await startHarness();
    const wrong = createControlClient({ url: h.server.url, token: 'not-the-token-at-all' });
    const sub = subscribe(wrong, '0');
    try {
      await waitFor(() => sub.errors.length > 0, 5000, 'error');
      expect(sub.received).toEqual([]);
      expect(h.fake.listenerCount()).toBe(0);
    } finally {
      sub.unsubscribe();
    }
  });

  it('reports a bad lastEventId to the typed client as an error, without events', async () => {
    await using h = await startHarness();
    const client = clientOf(h);
    const sub = subscribe(client, 'not-an-id');
    try {
      await waitFor(() => sub.errors.length > 0, 5000, 'error');
      expect(sub.received).toEqual([]);
      expect(h.fake.listenerCount()).toBe(0);
    } finally {
      sub.unsubscribe();
    }
  });

  it('works with raw fetch: id lines, input and Last-Event-ID resume', async () => {
    await using h = await startHarness();
    for (let i = 1; i <= 4; i++) h.fake.record('pool.synced', `event ${i}`);

    async function readIds(path: string, headers: Record<string, string>, until: number) {
      const ac = new AbortController();
      const res = await h.call(path, { signal: ac.signal, headers: { accept: 'text/event-stream', ...headers } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const ids = () => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
      const deadline = Date.now() + 5000;
      while (ids().at(-1) !== until) {
        if (Date.now() > deadline) throw new Error(`timed out; got ${text}`);
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        // once the replay is through, produce a live event
        if (ids().at(-1) === 4 && h.fake.events.length === 4) {
          await waitFor(() => h.fake.listenerCount() === 1, 5000, 'listener');
          h.fake.record('worker.started', 'live 5');
        }
      }
      ac.abort();
      await reader.cancel().catch(() => {});
      return { ids: ids(), text };
    }

    const input = encodeURIComponent(JSON.stringify({ lastEventId: '2' }));
    const first = await readIds(`/trpc/events.live?input=${input}`, {}, 5);
    expect(first.ids).toEqual([3, 4, 5]);
    expect(first.text).toMatch(/^event: connected$/m);
    expect(first.text).toContain('data: {"id":3,');
    await waitFor(() => h.fake.listenerCount() === 0, 5000, 'unsubscribe after abort');

    // What an EventSource does when it reconnects: the Last-Event-ID header.
    const second = await readIds('/trpc/events.live', { 'last-event-id': '4' }, 5);
    expect(second.ids).toEqual([5]);

    const unauthorized = await h.call('/trpc/events.live', { auth: false, headers: { accept: 'text/event-stream' } });
    expect(unauthorized.status).toBe(401);
    // A bad Last-Event-ID is refused before a stream opens (tRPC alone would answer 200 and
    // put the error inside the stream).
    const bad = await h.call('/trpc/events.live', { headers: { 'last-event-id': 'abc' } });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, path: 'events.live' });
  });
});

describe('liveEvents (the replay/live seam)', () => {
  it('neither loses nor duplicates an event recorded during the replay', async () => {
    const fake = new FakeSupervisor();
    for (let i = 1; i <= 3; i++) fake.record('pool.synced', `e${i}`);
    const original = fake.listEvents.bind(fake);
    let injected = false;
    fake.listEvents = (options) => {
      if (!injected) {
        injected = true;
        // recorded after the subscription but before the replay query reads the store:
        fake.record('worker.started', 'during replay'); // id 4: in the buffer AND the replay
      }
      return original(options);
    };
    const ac = new AbortController();
    const ids: number[] = [];
    const gen = liveEvents(fake, 1, ac.signal);
    for await (const event of gen) {
      ids.push(event.id);
      if (event.id === 4) fake.record('worker.stopped', 'after'); // id 5: live only
      if (event.id === 5) break;
    }
    expect(ids).toEqual([2, 3, 4, 5]);
    expect(fake.listenerCount()).toBe(0);
  });

  it('pages through a long replay and ends when the signal aborts', async () => {
    const fake = new FakeSupervisor();
    for (let i = 1; i <= 2500; i++) fake.record('pool.synced', `e${i}`);
    const ac = new AbortController();
    const ids: number[] = [];
    const done = (async () => {
      for await (const event of liveEvents(fake, 0, ac.signal)) {
        ids.push(event.id);
        if (event.id === 2500) queueMicrotask(() => ac.abort());
      }
    })();
    await done;
    expect(ids).toHaveLength(2500);
    expect(ids.every((id, i) => id === i + 1)).toBe(true);
    expect(fake.listenerCount()).toBe(0);
  });

  it('ends while waiting for live events when the signal aborts', async () => {
    const fake = new FakeSupervisor();
    const ac = new AbortController();
    const gen = liveEvents(fake, undefined, ac.signal);
    const next = gen.next();
    await waitFor(() => fake.listenerCount() === 1);
    ac.abort();
    expect(await next).toEqual({ value: undefined, done: true });
    expect(fake.listenerCount()).toBe(0);
  });

  it('falls back to the store when a slow consumer overflows its buffer', async () => {
    const fake = new FakeSupervisor();
    const ac = new AbortController();
    const gen = liveEvents(fake, undefined, ac.signal);
    const first = gen.next(); // registers the listener
    fake.record('pool.synced', 'e1');
    expect((await first).value?.id).toBe(1);
    for (let i = 2; i <= 10_050; i++) fake.record('pool.synced', `e${i}`);
    const ids: number[] = [1];
    for (;;) {
      const { value } = await gen.next();
      ids.push(value!.id);
      if (value!.id === 10_050) break;
    }
    expect(ids.every((id, i) => id === i + 1)).toBe(true);
    await gen.return(undefined);
    expect(fake.listenerCount()).toBe(0);
  });
});
