/**
 * What the control API answers to requests no well-behaved client sends: other methods,
 * unknown input keys, bad subscription input, huge and slow bodies, odd content types. All
 * over real sockets (`http.request`, or `net` where `http` would refuse to send the request).
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { SUBSCRIPTION_INPUTS, appRouter } from '../src/router';
import { TOKEN, startHarness, waitFor, type Harness } from './helpers';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection; resolves with the whole answer. */
function send(
  port: number,
  method: string,
  path: string,
  options: { body?: string | Buffer; headers?: Record<string, string>; auth?: boolean } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== false) headers.authorization = `Bearer ${TOKEN}`;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes `text` on a raw connection and reads until the server closes it (or `timeoutMs`). */
function exchange(port: number, text: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close the connection within ${timeoutMs} ms; got ${JSON.stringify(received)}`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => {}); // a reset after the answer still ends in 'close'
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(text);
  });
}

const input = (value: unknown) => `input=${encodeURIComponent(JSON.stringify(value))}`;

/** No stack trace, no internal error, nothing logged as a bug. */
function expectClean(res: RawResponse): void {
  expect(res.body).not.toMatch(/\n\s+at |stack|INTERNAL_SERVER_ERROR/);
  expect(res.status).toBeLessThan(500);
}

describe('methods the server does not handle', () => {
  const ALLOW: Record<string, string> = {
    '/healthz': 'GET, HEAD',
    '/trpc/workers.list': 'GET, POST', // a query (POST works too, for curl)
    '/trpc/health': 'GET, POST',
    '/trpc/workers.detach': 'POST', // a mutation
    '/trpc/pools.sync': 'POST',
    '/trpc/events.live': 'GET', // subscriptions: EventSource GETs
    '/trpc/workers.watch': 'GET',
  };

  it('answer 405 with Allow on every endpoint, as JSON, without a stack trace', async () => {
    await using h = await startHarness();
    for (const method of ['TRACE', 'PATCH', 'PUT', 'DELETE', 'OPTIONS', 'PROPFIND']) {
      for (const [path, allow] of Object.entries(ALLOW)) {
        const res = await send(h.server.port, method, path, { body: '{"worker":"web@0"}', headers: { 'content-type': 'application/json' } });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.allow, `${method} ${path}`).toBe(allow);
        expect(res.headers['content-type']).toBe('application/json');
        expect(res.body).toContain('"code":"METHOD_NOT_SUPPORTED"');
        expectClean(res);
      }
    }
    expect(h.fake.calls).toEqual([]);
    expect(h.logs).toEqual([]);
  });

  it('answer 405 with Allow for a method the procedure does not take', async () => {
    await using h = await startHarness();
    const cases: Array<[string, string, string]> = [
      ['GET', `/trpc/workers.detach?${input({ worker: 'web@0' })}`, 'POST'],
      ['POST', '/trpc/events.live', 'GET'],
      ['POST', '/trpc/workers.watch', 'GET'],
      ['HEAD', '/trpc/workers.list', 'GET, POST'],
      // a batch takes what all of its procedures take
      ['POST', '/trpc/workers.list,events.live?batch=1', 'GET'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await send(h.server.port, method, path, { body: method === 'POST' ? '{}' : undefined });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.allow, `${method} ${path}`).toBe(allow);
      expectClean(res);
    }
    expect(h.fake.calls).toEqual([]);
    expect(h.fake.listenerCount()).toBe(0);
  });

  it('answer 404 for an unknown procedure or path whatever the method', async () => {
    await using h = await startHarness();
    for (const method of ['TRACE', 'DELETE', 'GET']) {
      for (const path of ['/trpc/workers.nope', '/trpc/__proto__', '/trpc/constructor', '/metrics', '/']) {
        const res = await send(h.server.port, method, path);
        expect(res.status, `${method} ${path}`).toBe(404);
        expectClean(res);
      }
    }
    const badEncoding = await send(h.server.port, 'GET', '/trpc/workers.%E0%A4%A');
    expect(badEncoding.status).toBe(400);
    expectClean(badEncoding);
    expect(h.logs).toEqual([]);
  });

  it('answer CONNECT with 405 and an unknown method token with 400, and keep serving', async () => {
    await using h = await startHarness();
    const connect = await exchange(h.server.port, `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`);
    expect(connect).toMatch(/^HTTP\/1\.1 405 /);
    expect(connect).toMatch(/\r\nAllow: GET, HEAD, POST\r\n/i);
    const weird = await exchange(h.server.port, `FOO\x01 /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    expect(weird).toMatch(/^HTTP\/1\.1 400 /);
    expect((await send(h.server.port, 'GET', '/healthz')).status).toBe(200);
    expect(h.logs).toEqual([]);
  });
});

describe('strict input: unknown keys are refused', () => {
  const post = (h: Harness, path: string, body: unknown) =>
    send(h.server.port, 'POST', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  it('pools.sync {"worker":42} syncs nothing: 400 naming the key', async () => {
    await using h = await startHarness();
    const res = await post(h, '/trpc/pools.sync', { worker: 42 });
    expect(res.status).toBe(400);
    const error = JSON.parse(res.body).error;
    expect(error.data.code).toBe('BAD_REQUEST');
    expect(error.message).toMatch(/"worker"/);
    expect(h.fake.calls).toEqual([]);
    expect(h.fake.events).toEqual([]);
  });

  it('refuses an unknown key next to valid ones, on mutations and queries', async () => {
    await using h = await startHarness();
    const cases: Array<[string, RawResponse]> = [
      ['detach', await post(h, '/trpc/workers.detach', { worker: 'web@0', force: true })],
      ['detachAndSync', await post(h, '/trpc/workers.detachAndSync', { worker: 'web@0', pool: 'web' })],
      ['stop', await post(h, '/trpc/supervisor.stop', { keepWorkers: true, now: 1 })],
      ['logs', await send(h.server.port, 'GET', `/trpc/workers.logs?${input({ worker: 'web@0', lines: 5, stream: 'stderr' })}`)],
      ['events.list', await send(h.server.port, 'GET', `/trpc/events.list?${input({ limit: 5, kind: 'x' })}`)],
    ];
    for (const [name, res] of cases) {
      expect(res.status, name).toBe(400);
      expect(JSON.parse(res.body).error.message, name).toMatch(/^invalid input: Unrecognized key: "(force|pool|now|stream|kind)"/);
    }
    expect(h.fake.calls).toEqual([]);
  });

  it('procedures without input refuse a non-empty object but take none or {}', async () => {
    await using h = await startHarness();
    for (const path of ['/trpc/workers.list', '/trpc/pools.list', '/trpc/workers.history', '/trpc/health']) {
      const viaGet = await send(h.server.port, 'GET', `${path}?${input({ worker: 'web@0' })}`);
      expect(viaGet.status, path).toBe(400);
      expect(JSON.parse(viaGet.body).error.message).toMatch(/"worker"/);
      expect((await post(h, path, { x: 1 })).status, path).toBe(400);
      expect((await send(h.server.port, 'GET', path)).status, path).toBe(200);
      expect((await send(h.server.port, 'GET', `${path}?${input({})}`)).status, path).toBe(200);
    }
    // only the four successful calls per procedure with a supervisor method reached it
    expect(h.fake.calls.map((c) => c.method)).toEqual([
      'listWorkers',
      'listWorkers',
      'listPools',
      'listPools',
      'sessionHistory',
      'sessionHistory',
    ]);
  });
});

describe('subscription input is checked before the stream opens', () => {
  it('knows the input schema of every subscription', () => {
    const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;
    const subscriptions = Object.keys(procedures).filter((path) => procedures[path]!._def.type === 'subscription');
    expect(subscriptions.sort()).toEqual(Object.keys(SUBSCRIPTION_INPUTS).sort());
  });

  async function expect400(h: Harness, path: string, headers: Record<string, string> = {}, key?: string): Promise<void> {
    const res = await send(h.server.port, 'GET', path, { headers: { accept: 'text/event-stream', ...headers } });
    expect(res.status, path).toBe(400);
    expect(res.headers['content-type']).toBe('application/json');
    const error = JSON.parse(res.body).error;
    expect(error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
    if (key !== undefined) expect(error.message).toContain(key);
  }

  it('events.live: a bad lastEventId, Last-Event-ID or unknown key → 400 JSON, no stream', async () => {
    await using h = await startHarness();
    await expect400(h, `/trpc/events.live?${input({ lastEventId: 'abc' })}`, {}, 'lastEventId');
    await expect400(h, '/trpc/events.live', { 'last-event-id': 'abc' }, 'lastEventId');
    await expect400(h, '/trpc/events.live', { 'last-event-id': '1'.repeat(16) }, 'lastEventId');
    await expect400(h, '/trpc/events.live?lastEventId=-1', {}, 'lastEventId');
    await expect400(h, `/trpc/events.live?${input({ lastEventId: '1', follow: true })}`, {}, '"follow"');
    await expect400(h, '/trpc/events.live?input=%7Bnope');
    await expect400(h, `/trpc/events.live?${input(['1'])}`);
    await expect400(h, '/trpc/events.live?batch=1');
    expect(h.fake.listenerCount()).toBe(0);
    expect(h.fake.calls).toEqual([]);
  });

  it('workers.watch: an unknown key → 400; a Last-Event-ID is ignored (its stream has no ids)', async () => {
    await using h = await startHarness();
    await expect400(h, `/trpc/workers.watch?${input({ pool: 'web' })}`, {}, '"pool"');
    expect(h.fake.calls).toEqual([]);

    const ac = new AbortController();
    const res = await h.call('/trpc/workers.watch', { signal: ac.signal, headers: { 'last-event-id': 'whatever' } });
    try {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const reader = res.body!.getReader();
      let text = '';
      const deadline = Date.now() + 5000;
      while (!text.includes('"workers":')) {
        if (Date.now() > deadline) throw new Error(`no snapshot; got ${text}`);
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toContain('"id":"web@0"');
    } finally {
      ac.abort();
    }
  });
});

describe('limits', () => {
  it('refuses a body over 1 MiB with 413, before the supervisor sees it', async () => {
    await using h = await startHarness();
    const huge = JSON.stringify({ worker: 'web@0', pad: 'x'.repeat(2 * 1024 * 1024) });
    const res = await send(h.server.port, 'POST', '/trpc/workers.detach', {
      body: huge,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.data.code).toBe('PAYLOAD_TOO_LARGE');
    expect(h.fake.calls).toEqual([]);
  });

  it('answers 408 and closes when a body trickles in slower than requestTimeoutMs', async () => {
    await using slow = await startHarness({ requestTimeoutMs: 300 });
    const started = Date.now();
    // Promises 100 bytes, sends 10, then nothing.
    const answer = await exchange(
      slow.server.port,
      `POST /trpc/workers.detach HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"worker":`,
      5000,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(slow.fake.calls).toEqual([]);
    expect(slow.logs).toEqual([]);
    // and the server still answers others
    expect((await send(slow.server.port, 'GET', '/trpc/workers.list')).status).toBe(200);
  });

  it('keeps an event stream open past requestTimeoutMs (the timeout covers receiving the request only)', async () => {
    await using slow = await startHarness({ requestTimeoutMs: 200 });
    const ac = new AbortController();
    try {
      const res = await slow.call('/trpc/events.live', { signal: ac.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await waitFor(() => slow.fake.listenerCount() === 1, 5000, 'live listener');
      // Past several timeout checks, an event still arrives on the same stream.
      const openedAt = Date.now();
      await waitFor(() => Date.now() - openedAt > 800, 5000, 'time to pass');
      slow.fake.record('pool.synced', 'late');
      let text = '';
      while (!text.includes('"message":"late"')) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended; got ${text}`);
        text += new TextDecoder().decode(value);
      }
    } finally {
      ac.abort();
    }
  });

  it('takes only JSON bodies: other content types → 415, not JSON → 400', async () => {
    await using h = await startHarness();
    const multipart = await send(h.server.port, 'POST', '/trpc/workers.detach', {
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x\r\nContent-Disposition: form-data; name="worker"\r\n\r\nweb@0\r\n--x--\r\n',
    });
    expect(multipart.status).toBe(415);
    expect(JSON.parse(multipart.body).error.data.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const octets = await send(h.server.port, 'POST', '/trpc/workers.detach', {
      headers: { 'content-type': 'application/octet-stream' },
      body: '{"worker":"web@0"}',
    });
    expect(octets.status).toBe(415);
    const notJson = await send(h.server.port, 'POST', '/trpc/workers.detach', {
      headers: { 'content-type': 'application/json' },
      body: '{"worker":',
    });
    expect(notJson.status).toBe(400);
    expectClean(notJson);
    expect(h.fake.calls).toEqual([]);
  });

  it('answers 431 to a request line or headers over 16 KiB', async () => {
    await using h = await startHarness();
    const res = await send(h.server.port, 'GET', `/trpc/workers.logs?${input({ worker: 'web@0', pad: 'x'.repeat(20_000) })}`);
    expect(res.status).toBe(431);
    expect(h.fake.calls).toEqual([]);
    expect((await send(h.server.port, 'GET', '/healthz')).status).toBe(200);
  });
});
