import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@handover/config';
import { type RunningSupervisor, launchSupervisor } from '@handover/supervisor';
import { createControlConnection } from '../src/server/control-connection';
import type { ConsoleSession } from '../src/server/session';
import { createPassThrough } from '../src/server/trpc-pass-through';
import { GET as routeGET } from '../src/app/api/trpc/[trpc]/route';
import { freePort, freePorts, retryOnAddressInUse } from '../../../test-support/ports';

/**
 * The console's /api/trpc pass-through against a real supervisor (real control API, real demo
 * worker), found the way the console finds it: from handover.config.json and the token file
 * in the data directory. Only the session check is replaced.
 */

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
const DEMO = path.join(REPO_ROOT, 'apps/demo/server.mjs');
const ORIGIN = 'http://127.0.0.1:3999';

/** The environment without the developer's own HANDOVER_* settings. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('HANDOVER_')) env[key] = value;
  return { ...env, ...extra } as NodeJS.ProcessEnv;
}

let dir: string;
let running: RunningSupervisor;
let controlPort: number;
const alice: ConsoleSession = { user: 'alice', expiresAt: Date.now() + 3_600_000 };
/** What the pass-through sent upstream, for the header checks. */
const sent: Array<{ url: string; headers: Headers }> = [];

function handler(session: ConsoleSession | null = alice, cwd = dir) {
  return createPassThrough({
    connection: createControlConnection({ cwd, env: cleanEnv() }),
    getSession: async () => session,
    fetch: (input, init) => {
      sent.push({ url: String(input), headers: new Headers(init?.headers) });
      return fetch(input, init);
    },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'handover-admin-test-'));
  const configPath = path.join(dir, 'handover.config.json');
  const env = cleanEnv();
  const load = () => loadConfig({ path: configPath, env });
  // The console finds the control port in the config file, so it is a real one there, chosen
  // now; if another process takes one before the supervisor binds it, again on others.
  running = await retryOnAddressInUse(async () => {
    const [proxyPort, port] = (await freePorts(2)) as [number, number];
    controlPort = port;
    await writeFile(
      configPath,
      JSON.stringify({
        proxy: { port: proxyPort },
        control: { port: controlPort },
        dataDir: 'data',
        pools: [
          {
            name: 'web',
            command: `node ${JSON.stringify(DEMO)}`,
            basePort: 21_000 + Math.floor(Math.random() * 1000) * 10,
            sessionCookie: 'demo.sid',
            sessionReports: true,
            revision: 'v1',
            healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 50 },
            stop: { graceSeconds: 5 },
          },
        ],
      }),
    );
    // The token is generated into data/control-token: the console must find it there.
    return launchSupervisor(await load(), { env, reloadConfig: load });
  });
});

afterAll(async () => {
  await running?.stop(2000);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the /api/trpc pass-through', () => {
  it('answers a query with the supervisor’s data', async () => {
    const response = await handler()(new Request(`${ORIGIN}/api/trpc/workers.list`));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await response.json()) as { result: { data: Array<{ id: string; state: string }> } };
    expect(body.result.data).toEqual([expect.objectContaining({ id: 'web@0', state: 'started' })]);
  });

  it('passes a batch and the query string through', async () => {
    const input = encodeURIComponent(JSON.stringify({ 0: { limit: 5 }, 1: {} }));
    const response = await handler()(new Request(`${ORIGIN}/api/trpc/events.list,pools.list?batch=1&input=${input}`));
    expect(response.status).toBe(200);
    const body = (await response.json()) as Array<{ result: { data: unknown[] } }>;
    expect(body).toHaveLength(2);
    expect(body[0]!.result.data.length).toBeLessThanOrEqual(5);
    expect(body[1]!.result.data).toEqual([expect.objectContaining({ name: 'web', revision: 'v1' })]);
  });

  it('answers 401 without a console session, and never calls the supervisor', async () => {
    const before = sent.length;
    const response = await handler(null)(new Request(`${ORIGIN}/api/trpc/workers.list`));
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { data: { code: 'UNAUTHORIZED', httpStatus: 401 } } });
    expect(sent.length).toBe(before);
  });

  it('the route handler itself refuses a request without a session cookie', async () => {
    const response = await routeGET(new Request(`${ORIGIN}/api/trpc/workers.list`));
    expect(response.status).toBe(401);
  });

  it('runs a mutation as console:<user>, dropping the browser’s authorization and x-handover-* headers', async () => {
    const response = await handler()(
      new Request(`${ORIGIN}/api/trpc/pools.sync`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: 'Bearer stolen-or-guessed-token',
          'x-handover-actor': 'mallory',
          'x-handover-session': 'abc; ttl=0',
          cookie: 'handover_console=should-not-travel',
        },
        body: JSON.stringify({ pool: 'web' }),
      }),
    );
    expect(response.status).toBe(200);
    const upstream = sent.at(-1)!;
    expect(upstream.url).toBe(`http://127.0.0.1:${controlPort}/trpc/pools.sync`);
    expect(upstream.headers.get('authorization')).toBe(`Bearer ${running.token.value}`);
    expect(upstream.headers.get('x-handover-actor')).toBe('console:alice');
    expect(upstream.headers.get('x-handover-session')).toBeNull();
    expect(upstream.headers.get('cookie')).toBeNull();
    const events = running.supervisor.listEvents({ limit: 20 });
    expect(events.filter((e) => e.type === 'action').at(-1)?.actor).toBe('console:alice');
  });

  it('passes the API’s own errors through with their status', async () => {
    const response = await handler()(
      new Request(`${ORIGIN}/api/trpc/workers.reattach`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ worker: 'web@0' }),
      }),
    );
    expect(response.status).toBe(412);
    expect(await response.json()).toMatchObject({ error: { data: { code: 'PRECONDITION_FAILED' } } });
  });

  it('streams server-sent events without buffering: an event arrives within a second', async () => {
    const abort = new AbortController();
    const response = await handler()(
      new Request(`${ORIGIN}/api/trpc/events.live`, { headers: { accept: 'text/event-stream' }, signal: abort.signal }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (needle: string, timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (!text.includes(needle)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${JSON.stringify(needle)} within ${timeoutMs} ms; got ${JSON.stringify(text)}`);
        const chunk = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${needle}; got ${JSON.stringify(text)}`)), left)),
        ]);
        if (chunk.done) throw new Error(`stream ended; got ${JSON.stringify(text)}`);
        text += chunk.value;
      }
    };
    await readUntil('event: connected', 5000);

    // Something happens on the supervisor while the stream is open…
    const started = performance.now();
    const sync = handler()(
      new Request(`${ORIGIN}/api/trpc/pools.sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
    );
    // …and its event comes through the pass-through while the stream is still open.
    await readUntil('"type":"action"', 1000);
    const latency = performance.now() - started;
    console.log(`SSE event through the pass-through after ${latency.toFixed(1)} ms`);
    expect(latency).toBeLessThan(1000);
    expect(text).toMatch(/\nid: \d+\n/);
    await sync;
    abort.abort();
    await reader.cancel().catch(() => {});
  });

  it('streams workers.watch snapshots (first one at once)', async () => {
    const abort = new AbortController();
    const started = performance.now();
    const response = await handler()(new Request(`${ORIGIN}/api/trpc/workers.watch`, { signal: abort.signal }));
    expect(response.status).toBe(200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('"workers"')) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += chunk.value;
    }
    expect(text).toContain('"id":"web@0"');
    expect(performance.now() - started).toBeLessThan(1000);
    abort.abort();
    await reader.cancel().catch(() => {});
  });

  it('answers 503 in tRPC’s shape when the supervisor does not answer', async () => {
    const other = await mkdtemp(path.join(tmpdir(), 'handover-admin-down-'));
    try {
      const deadPort = await freePort();
      await writeFile(
        path.join(other, 'handover.config.json'),
        JSON.stringify({
          control: { port: deadPort },
          dataDir: 'data',
          pools: [{ name: 'web', command: 'true', basePort: deadPort + 1, sessionCookie: 'sid' }],
        }),
      );
      const down = createPassThrough({
        connection: createControlConnection({ cwd: other, env: cleanEnv({ HANDOVER_CONTROL_TOKEN: 'a-token-that-is-long-enough' }) }),
        getSession: async () => alice,
      });
      const response = await down(new Request(`${ORIGIN}/api/trpc/workers.list`));
      expect(response.status).toBe(503);
      const body = (await response.json()) as { error: { message: string; data: { code: string } } };
      expect(body.error.data.code).toBe('SERVICE_UNAVAILABLE');
      expect(body.error.message).toContain(`the supervisor is not answering on http://127.0.0.1:${deadPort}/`);

      // No token file and no HANDOVER_CONTROL_TOKEN: no supervisor has ever run there.
      const noToken = createPassThrough({ connection: createControlConnection({ cwd: other, env: cleanEnv() }), getSession: async () => alice });
      const second = await noToken(new Request(`${ORIGIN}/api/trpc/workers.list`));
      expect(second.status).toBe(503);
      expect(((await second.json()) as { error: { message: string } }).error.message).toMatch(/not running/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('checks Origin against Host; X-Forwarded-Host counts only behind a trusted proxy', async () => {
    const post = (headers: Record<string, string>, trustedProxyHops: number) =>
      createPassThrough({
        connection: createControlConnection({ cwd: dir, env: cleanEnv() }),
        getSession: async () => alice,
        trustedProxyHops,
      })(
        new Request(`${ORIGIN}/api/trpc/pools.sync`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: '{}',
        }),
      );
    // A client naming its own origin in X-Forwarded-Host does not pass without a trusted proxy…
    const forged = await post({ origin: 'https://evil.example', 'x-forwarded-host': 'evil.example', host: '127.0.0.1:3999' }, 0);
    expect(forged.status).toBe(403);
    // …the console's own origin does;
    expect((await post({ origin: ORIGIN, host: '127.0.0.1:3999' }, 0)).status).toBe(200);
    // behind a trusted proxy, the host the proxy reports is the one the browser used.
    expect((await post({ origin: 'https://console.example.com', 'x-forwarded-host': 'console.example.com', host: '127.0.0.1:3999' }, 1)).status).toBe(200);
    expect((await post({ origin: 'https://evil.example', 'x-forwarded-host': 'console.example.com', host: 'evil.example' }, 1)).status).toBe(403);
  });

  it('ends an open event stream once its session is over (logout while streaming)', async () => {
    let session: ConsoleSession | null = alice;
    let checks = 0;
    const abort = new AbortController();
    const passThrough = createPassThrough({
      connection: createControlConnection({ cwd: dir, env: cleanEnv() }),
      getSession: async () => {
        checks++;
        return session;
      },
      sessionRecheckMs: 100,
    });
    const response = await passThrough(new Request(`${ORIGIN}/api/trpc/events.live`, { signal: abort.signal }));
    expect(response.status).toBe(200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (done: (chunkDone: boolean) => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const left = deadline - Date.now();
        const chunk = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no ${what} within 5 s; got ${JSON.stringify(text)}`)), Math.max(0, left))),
        ]);
        if (!chunk.done) text += chunk.value;
        if (done(chunk.done)) return;
        if (chunk.done) throw new Error(`stream ended before ${what}: ${JSON.stringify(text)}`);
      }
    };
    await readUntil(() => text.includes('event: connected'), 'connected event');

    // While the session lives, the rechecks keep the stream open: after three of them an event
    // still comes through.
    const deadline = Date.now() + 5000;
    while (checks < 4) {
      if (Date.now() > deadline) throw new Error(`only ${checks} session checks in 5 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const sync = handler()(new Request(`${ORIGIN}/api/trpc/pools.sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
    await readUntil(() => text.includes('"type":"action"'), 'action event');
    await sync;

    // The session ends (logout elsewhere): the stream ends by itself.
    session = null;
    const ended = Date.now();
    await readUntil((chunkDone) => chunkDone, 'end of stream');
    expect(Date.now() - ended).toBeLessThan(5000);
    abort.abort();
  });

  it('refuses cross-site requests and odd paths', async () => {
    const cross = await handler()(new Request(`${ORIGIN}/api/trpc/workers.list`, { headers: { 'sec-fetch-site': 'cross-site' } }));
    expect(cross.status).toBe(403);
    const odd = await handler()(new Request(`${ORIGIN}/api/trpc/..%2Fhealthz`));
    expect(odd.status).toBe(404);
  });
});
