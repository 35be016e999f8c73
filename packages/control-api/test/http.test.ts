import { describe, expect, it } from 'vitest';
import { fakeWorker } from './fake-supervisor';
import { TOKEN, json, startHarness, startServer } from './helpers';
import { createTokenCheck, parseActor } from '../src/http-handler';
import { isLoopbackHost, startControlServer } from '../src/http-server';

describe('plain HTTP (curl style)', () => {
  it('serves /healthz without a token', async () => {
    await using h = await startHarness();
    const res = await h.call('/healthz', { auth: false });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await json(res)).toEqual({ ok: true });
  });

  it('answers a query: GET /trpc/workers.list', async () => {
    await using h = await startHarness();
    const res = await h.call('/trpc/workers.list');
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toEqual({ result: { data: [fakeWorker('web@0', { sessions: 3, inFlight: 1, webSockets: 2 }), h.fake.workers.get('web@1')] } });
  });

  it('answers a mutation: POST /trpc/workers.detach {"worker":"web@0"}', async () => {
    await using h = await startHarness();
    // Another started worker: the supervisor refuses to detach the only one.
    h.fake.workers.set('web@2', fakeWorker('web@2'));
    const res = await h.post('/trpc/workers.detach', { worker: 'web@0' });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toEqual({
      result: {
        data: {
          ...fakeWorker('web@0', { sessions: 3, inFlight: 1, webSockets: 2 }),
          state: 'detached',
          attached: false,
          detachedAt: '2030-01-02T03:06:05.000Z',
          drainDeadline: '2030-01-03T03:06:05.000Z',
        },
      },
    });
    expect(h.fake.calls.at(-1)).toEqual({ method: 'detach', args: ['web@0', 'api'] });
  });

  it('passes the actor header to the supervisor (trimmed, default api)', async () => {
    await using h = await startHarness();
    h.fake.workers.set('web@2', fakeWorker('web@2'));
    await h.post('/trpc/workers.detach', { worker: 'web@0' }, { 'x-handover-actor': '  alice@laptop  ' });
    expect(h.fake.calls.at(-1)).toEqual({ method: 'detach', args: ['web@0', 'alice@laptop'] });
    await h.post('/trpc/pools.sync', {}, { 'x-handover-actor': 'x'.repeat(100) });
    expect(h.fake.calls.at(-1)).toEqual({ method: 'sync', args: [undefined, 'x'.repeat(64)] });
    await h.post('/trpc/workers.reattach', { worker: 'web@1' });
    expect(h.fake.calls.at(-1)).toEqual({ method: 'reattach', args: ['web@1', 'api'] });
    expect(h.fake.events.find((e) => e.type === 'worker.reattached')).toMatchObject({ worker: 'web@1', actor: 'api' });
  });

  it('answers queries with input in the URL and via POST', async () => {
    await using h = await startHarness();
    const input = encodeURIComponent(JSON.stringify({ worker: 'web@0', lines: 2 }));
    const res = await h.call(`/trpc/workers.logs?input=${input}`);
    expect(res.status).toBe(200);
    expect((await json(res)).result.data).toEqual([
      { at: '2030-01-02T03:04:13.000Z', stream: 'stdout', text: 'web@0 line 9' },
      { at: '2030-01-02T03:04:14.000Z', stream: 'stdout', text: 'web@0 line 10' },
    ]);
    const viaPost = await h.post('/trpc/workers.logs', { worker: 'web@0' });
    expect(viaPost.status).toBe(200);
    expect((await json(viaPost)).result.data).toHaveLength(10);
    expect(h.fake.calls.at(-1)).toEqual({ method: 'logs', args: ['web@0', 200] });
  });

  it('lists pools and events', async () => {
    await using h = await startHarness();
    h.fake.record('supervisor.started', 'up');
    h.fake.record('pool.synced', 'synced');
    const pools = await json(await h.call('/trpc/pools.list'));
    expect(pools.result.data[0]).toMatchObject({ name: 'web', revision: 'v2', status: 'ok' });
    const events = await json(await h.call(`/trpc/events.list?input=${encodeURIComponent('{"afterId":1}')}`));
    expect(events.result.data.map((e: { id: number }) => e.id)).toEqual([2]);
    expect(h.fake.calls.at(-1)).toEqual({ method: 'listEvents', args: [{ afterId: 1, limit: 200 }] });
    const all = await json(await h.call('/trpc/events.list'));
    expect(all.result.data.map((e: { id: number }) => e.id)).toEqual([1, 2]);
  });

  it('refuses calls without or with a wrong token (401) and never reaches the supervisor', async () => {
    await using h = await startHarness();
    for (const auth of [false, 'wrong-token', `${TOKEN}x`, ''] as const) {
      const res = await h.call('/trpc/workers.list', { auth });
      expect(res.status).toBe(401);
      const body = await json(res);
      expect(body.error.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401 });
      expect(body.error.data.stack).toBeUndefined();
    }
    const mutation = await h.call('/trpc/workers.detach', {
      auth: false,
      method: 'POST',
      body: '{"worker":"web@0"}',
    });
    expect(mutation.status).toBe(401);
    const basic = await h.call('/trpc/workers.list', { auth: false, headers: { authorization: `Basic ${TOKEN}` } });
    expect(basic.status).toBe(401);
    expect(h.fake.calls).toEqual([]);
    // health is public through tRPC too
    const health = await h.call('/trpc/health', { auth: false });
    expect(await json(health)).toEqual({ result: { data: { ok: true } } });
  });

  it('maps ControlError codes to their HTTP status', async () => {
    await using h = await startHarness();
    const missing = await h.post('/trpc/workers.detach', { worker: 'web@9' });
    expect(missing.status).toBe(404);
    expect((await json(missing)).error).toMatchObject({
      message: 'no worker web@9; running workers: web@0, web@1',
      data: { code: 'NOT_FOUND', httpStatus: 404, path: 'workers.detach' },
    });
    const already = await h.post('/trpc/workers.detach', { worker: 'web@1' });
    expect(already.status).toBe(412);
    expect((await json(already)).error).toMatchObject({
      message: 'cannot detach web@1: it is detached. It is already detached (draining); reattach it to roll back.',
      data: { code: 'PRECONDITION_FAILED', httpStatus: 412 },
    });
    const logs = await h.call(`/trpc/workers.logs?input=${encodeURIComponent('{"worker":"api@3"}')}`);
    expect(logs.status).toBe(404);
  });

  it('rejects bad input with 400 and the input schema’s message', async () => {
    await using h = await startHarness();
    const cases: unknown[] = [
      { worker: 'WEB@0' },
      { worker: 'web' },
      { worker: 'web@0; rm -rf /' },
      {},
      { worker: 42 },
      { worker: `${'a'.repeat(10_000)}@0` },
    ];
    for (const body of cases) {
      const res = await h.post('/trpc/workers.detach', body);
      expect(res.status, JSON.stringify(body).slice(0, 40)).toBe(400);
      const payload = await json(res);
      expect(payload.error.data.code).toBe('BAD_REQUEST');
      expect(payload.error.message).toMatch(/^invalid input: worker: /);
      expect(payload.error.data.issues[0].path).toBe('worker');
    }
    const lines = await h.call(`/trpc/workers.logs?input=${encodeURIComponent('{"worker":"web@0","lines":0}')}`);
    expect(lines.status).toBe(400);
    const limit = await h.call(`/trpc/events.list?input=${encodeURIComponent('{"limit":5000}')}`);
    expect(limit.status).toBe(400);
    const pool = await h.post('/trpc/pools.sync', { pool: 'Web!' });
    expect(pool.status).toBe(400);
    const notJson = await h.call('/trpc/workers.detach', { method: 'POST', body: '{nope' });
    expect(notJson.status).toBe(400);
    expect(h.fake.calls.filter((c) => c.method !== 'listEvents')).toEqual([]);
  });

  it('answers 404 JSON for unknown paths and procedures', async () => {
    await using h = await startHarness();
    for (const path of ['/', '/trpc', '/trpc/', '/nope', '/healthz/x']) {
      const res = await h.call(path);
      expect(res.status, path).toBe(404);
      expect((await json(res)).error.code).toBe('NOT_FOUND');
    }
    const proc = await h.call('/trpc/workers.nope');
    expect(proc.status).toBe(404);
    expect((await json(proc)).error.data.code).toBe('NOT_FOUND');
  });

  it('answers 405 for mutations over GET', async () => {
    await using h = await startHarness();
    const res = await h.call(`/trpc/workers.detach?input=${encodeURIComponent('{"worker":"web@0"}')}`);
    expect(res.status).toBe(405);
    expect(h.fake.calls).toEqual([]);
  });

  it('turns an unexpected error into a logged 500', async () => {
    await using h = await startHarness();
    h.fake.breakListWorkers = true;
    const res = await h.call('/trpc/workers.list');
    expect(res.status).toBe(500);
    expect((await json(res)).error.data.code).toBe('INTERNAL_SERVER_ERROR');
    expect(h.logs.join('\n')).toMatch(/workers\.list failed: Error: boom/);
  });
});

describe('helpers', () => {
  it('compares tokens in constant time and exactly', () => {
    const check = createTokenCheck('secret-secret-secret');
    expect(check('Bearer secret-secret-secret')).toBe(true);
    expect(check('Bearer secret-secret-secreT')).toBe(false);
    expect(check('Bearer secret-secret-secret-')).toBe(false);
    expect(check('secret-secret-secret')).toBe(false);
    expect(check(undefined)).toBe(false);
    expect(() => createTokenCheck('')).toThrow();
  });

  it('sanitizes the actor', () => {
    expect(parseActor(undefined)).toBe('api');
    expect(parseActor('   ')).toBe('api');
    expect(parseActor(' bob ')).toBe('bob');
    expect(parseActor('a\u0000b\u001bc\u200bd')).toBe('abcd');
    expect(parseActor(['first', 'second'])).toBe('first');
    expect(parseActor('y'.repeat(70))).toHaveLength(64);
  });

  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('warns loudly when listening beyond loopback', async () => {
    await using h = await startHarness();
    const warnings: string[] = [];
    await using server = await startServer({
      supervisor: h.fake,
      token: TOKEN,
      host: '0.0.0.0',
      port: 0,
      warn: (line) => warnings.push(line),
    });
    expect(warnings.join('\n')).toMatch(/WARNING: .*0\.0\.0\.0.*not a loopback/);
    expect(server.url).toBe(`http://0.0.0.0:${server.port}/`);
    const quiet: string[] = [];
    await using local = await startServer({ supervisor: h.fake, token: TOKEN, port: 0, warn: (l) => quiet.push(l) });
    expect(quiet).toEqual([]);
    expect(local.url).toBe(`http://127.0.0.1:${local.port}/`);
  });

  it('reports a port in use', async () => {
    await using h = await startHarness();
    await expect(
      startControlServer({ supervisor: h.fake, token: TOKEN, host: '127.0.0.1', port: h.server.port }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
