/**
 * Session reports must never fail a user's response: thousands of sessions expiring at once are
 * reported a few kilobytes per response (the protocol's size rule), the rest carried over, through
 * a real proxy, to a real demo process.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProxy, type Route, type Upstream } from '@handover/proxy';
import { SessionTable } from '@handover/session-table';
import { Lease } from '@handover/process-table';
import { startOnFreePort } from '../../../test-support/ports';
import { type AsyncResource, asyncResource, disposer } from '../../../test-support/resources';

const SERVER = path.resolve(__dirname, '../server.mjs');
const SESSIONS = 3000;
/** Long enough to log all of them on (a few hundred per second on a busy machine) before the first ends. */
const TTL_SECONDS = '4';
/** The protocol's rule: X-Handover-Session lines of one response total at most this many bytes. */
const REPORT_BUDGET = 4096;

/**
 * The demo with a short session TTL, ready when it prints its listening line (on a port chosen
 * now); held with `await using`, it is killed when the test ends.
 */
async function startDemo(): Promise<AsyncResource<{ port: number }>> {
  const { child, port } = await startOnFreePort(
    'the demo',
    (port) =>
      spawn(process.execPath, [SERVER], {
        env: { PATH: process.env.PATH, HANDOVER_WORKER: 'web@0', PORT: String(port), DEMO_SESSION_TTL_SECONDS: TTL_SECONDS },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    (_port, output) => output().includes('listening on'),
  );
  return asyncResource({ port }, () => child.kill('SIGKILL'));
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(agent: http.Agent, port: number, method: string, urlPath: string, cookie?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers: cookie ? { Cookie: cookie } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Logs on `count` new sessions, 16 at a time; their ids in order. */
async function logOn(agent: http.Agent, port: number, count: number): Promise<string[]> {
  const ids: string[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        const index = next++;
        const answer = await request(agent, port, 'POST', '/api/login');
        expect(answer.status).toBe(200);
        ids[index] = (JSON.parse(answer.body) as { session: { id: string } }).session.id;
      }
    }),
  );
  return ids;
}

/** A short pause between polls while nothing has ended yet (the loops that use it have deadlines). */
const pause = () => new Promise((resolve) => setTimeout(resolve, 20));

/** The X-Handover-Session entries of a response, parsed as the proxy does. */
function reportsOf(headers: http.IncomingHttpHeaders): Array<[string, number]> {
  const raw = headers['x-handover-session'];
  if (raw === undefined) return [];
  return String(raw)
    .split(',')
    .map((entry) => entry.trim().split(/;\s*ttl=/) as [string, string])
    .map(([id, ttl]) => [id, Number(ttl)]);
}

describe('demo: session reports fit the protocol and reach the proxy', () => {
  it('reports thousands of expiries a few kilobytes per response, each exactly once', async () => {
    await using demo = await startDemo();
    const { port } = demo;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const ids = await logOn(agent, port, SESSIONS);
    const ended = new Map<string, number>();
    const deadline = Date.now() + 30_000;
    while (ended.size < SESSIONS && Date.now() < deadline) {
      const raw: string[] = [];
      const answer = await new Promise<Answer & { raw: string[] }>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/api/state', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', raw: res.rawHeaders }));
          })
          .on('error', reject);
      });
      expect(answer.status).toBe(200);
      for (let i = 0; i < answer.raw.length; i += 2) if (/^x-handover-session$/i.test(answer.raw[i]!)) raw.push(answer.raw[i + 1]!);
      const bytes = raw.reduce((sum, line) => sum + 'X-Handover-Session: \r\n'.length + line.length, 0);
      expect(bytes).toBeLessThanOrEqual(REPORT_BUDGET);
      const reports = reportsOf(answer.headers);
      for (const [id, ttl] of reports) {
        expect(ttl).toBe(0);
        ended.set(id, (ended.get(id) ?? 0) + 1);
      }
      if (reports.length === 0) await pause();
    }
    agent.destroy();
    expect(ended.size).toBe(SESSIONS);
    expect([...ended.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(ids)).toEqual(new Set(ended.keys()));
  }, 60_000);

  it('through a real proxy: every user response is 2xx and every ended session is unbound', async () => {
    await using demo = await startDemo();
    const demoPort = demo.port;
    const worker: Upstream = { id: 'web@0', host: '127.0.0.1', port: demoPort, routable: true, draining: false, lease: new Lease() };
    // A stopped clock: the proxy never expires a session itself, so only the demo's reports unbind.
    const route: Route = { sessionCookie: 'demo.sid', idleTimeoutMs: 3_600_000, sessions: new SessionTable<Upstream>({ now: () => 0 }), target: worker };
    const errors: unknown[] = [];
    const proxy = createProxy({ route, onError: (error) => errors.push(error) });
    await using _proxy = disposer(() => proxy.close(0));
    const port = await proxy.listen(0);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

    await logOn(agent, port, SESSIONS);
    expect(route.sessions.size).toBe(SESSIONS);

    // Users keep coming (no session cookie) while the demo's sessions end by themselves.
    const statuses = new Map<number, number>();
    const deadline = Date.now() + 30_000;
    let reporting = 0;
    while (route.sessions.size > 0 && Date.now() < deadline) {
      const before = route.sessions.size;
      const answer = await request(agent, port, 'GET', '/api/state');
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      expect(answer.headers['x-handover-session']).toBeUndefined();
      if (route.sessions.size < before) reporting++;
      else await pause();
    }
    agent.destroy();
    expect([...statuses.keys()]).toEqual([200]);
    expect(route.sessions.size).toBe(0);
    expect(worker.lease.sessions).toBe(0);
    // Carried over, not dropped: it took several responses (about 130 ids each).
    expect(reporting).toBeGreaterThan(SESSIONS / 200);
    expect(errors).toEqual([]);
  }, 60_000);
});
