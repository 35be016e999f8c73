import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { SessionTable, type SessionLimitInfo } from '@handover/session-table';
import type { Upstream } from '../src/index';
import { get, makeRoute, startProxy, startUpstream } from './helpers';

/** A worker that starts a new session on every request without one it knows (as a flood makes it do). */
async function sessionMinter(id: string) {
  const known = new Set<string>();
  return startUpstream(id, (req, res) => {
    const sid = /demo\.sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (sid === undefined || !known.has(sid)) {
      const fresh = randomBytes(12).toString('base64url');
      known.add(fresh);
      res.setHeader('Set-Cookie', `demo.sid=${fresh}; Path=/; HttpOnly`);
    }
    res.end(id);
  });
}

describe('bounded session table under a flood of new sessions (real sockets)', () => {
  it('never holds more than maxSessions, keeps the sessions in use, and reports the limit once', async () => {
    const MAX = 200;
    const REQUESTS = 4000;
    await using target = await sessionMinter('web@1');
    await using old = await startUpstream('web@0', (_req, res) => res.end('web@0'));
    old.upstream.draining = true;
    const limits: SessionLimitInfo[] = [];
    const sessions = new SessionTable<Upstream>({ maxSessions: MAX, onLimit: (info) => limits.push(info) });
    const route = makeRoute(target.upstream, { sessions });
    // A user still on the detached worker, idle all along, and one on the target who keeps using it.
    sessions.bind('LOYAL', old.upstream, 3_600_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const login = await get(port, '/');
    const active = /demo\.sid=([^;]+)/.exec(String(login.headers['set-cookie']))![1]!;

    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    let next = 0;
    let largest = 0;
    const statuses = new Set<number>();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < REQUESTS) {
          const n = next++;
          // Each attacker request brings a random id of its own; the worker answers with a new session.
          const cookie = n % 25 === 0 ? `demo.sid=${active}` : `demo.sid=${randomBytes(12).toString('base64url')}`;
          const status = await new Promise<number>((resolve, reject) => {
            http
              .get({ host: '127.0.0.1', port, path: '/', agent, headers: { Cookie: cookie } }, (res) => {
                res.resume();
                res.on('end', () => resolve(res.statusCode ?? 0));
              })
              .on('error', reject);
          });
          statuses.add(status);
          largest = Math.max(largest, sessions.size);
        }
      }),
    );
    agent.destroy();
    expect([...statuses]).toEqual([200]);
    expect(largest).toBeLessThanOrEqual(MAX);
    expect(sessions.size).toBe(MAX);
    expect(target.upstream.lease.sessions + old.upstream.lease.sessions).toBe(MAX);
    expect(sessions.stats.evicted).toBeGreaterThan(REQUESTS - 2 * MAX);
    expect(sessions.stats.queued).toBeLessThanOrEqual(2 * MAX + 4096);
    expect(limits).toHaveLength(1);
    expect(sessions.peek('LOYAL')).toBe(old.upstream);
    expect(sessions.peek(active)).toBe(target.upstream);
  });

  it('a session the full table refused is still routed by its route cookie', async () => {
    await using a = await sessionMinter('web@1');
    await using b = await startUpstream('web@2', (_req, res) => res.end('web@2'));
    await using old = await startUpstream('web@0', (_req, res) => res.end('web@0'));
    old.upstream.draining = true;
    const sessions = new SessionTable<Upstream>({ maxSessions: 1 });
    sessions.bind('LOYAL', old.upstream, 3_600_000); // the only slot, and it may not be evicted
    const workers = [a.upstream, b.upstream, old.upstream];
    const route = makeRoute(a.upstream, {
      sessions,
      routeCookie: { name: 'handover_route', key: randomBytes(32), upstream: (id) => workers.find((w) => w.id === id) },
    });
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const first = await get(port, '/');
    const cookies = (first.headers['set-cookie'] ?? []).map((line) => line.split(';')[0]!);
    expect(cookies.find((c) => c.startsWith('handover_route='))).toMatch(/^handover_route=web@1\./);
    expect(sessions.size).toBe(1);
    expect(sessions.stats.refused).toBe(1);

    route.target = b.upstream; // a new revision takes new sessions; this user stays on web@1
    const again = await get(port, '/', { Cookie: cookies.join('; ') });
    expect(again.body).toBe('web@1');
    expect(sessions.peek('LOYAL')).toBe(old.upstream);
  });
});
