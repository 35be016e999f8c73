import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type Route, type RouteCookie, type Upstream, applySessionReports, parseSessionReport, routeCookieValue } from '../src/index';
import { answerWith, get, makeRoute, startProxy, startUpstream } from './helpers';

/**
 * Reports that reach the supervisor by the side channel (no response to ride on: a session ended
 * after a streamed response's head went out, or expired in the app's background).
 */
describe('session reports by the side channel', () => {
  it('binds and ends like a response header would, and stops learning from requests on that route', async () => {
    await using w0 = await startUpstream('web@0', answerWith('web@0'));
    const route = makeRoute(w0.upstream);
    await using testProxy = await startProxy(route);

    expect(applySessionReports(route, w0.upstream, parseSessionReport('CREATED-LATE; ttl=60'))).toBe(1);
    expect(route.sessions.peek('CREATED-LATE')).toBe(w0.upstream);
    expect(w0.upstream.lease.sessions).toBe(1);
    expect(applySessionReports(route, w0.upstream, parseSessionReport('CREATED-LATE; ttl=0'))).toBe(1);
    expect(route.sessions.peek('CREATED-LATE')).toBeUndefined();
    expect(w0.upstream.lease.sessions).toBe(0);

    // The app reports: an id it answered without a word is not guessed at any more.
    await get(testProxy.port, '/', { Cookie: 'demo.sid=SILENT' });
    expect(route.sessions.peek('SILENT')).toBeUndefined();
  });

  it('a late ttl=0 from a worker does not end a session that now belongs to another worker', async () => {
    await using w0 = await startUpstream('web@0', answerWith('web@0'));
    await using w1 = await startUpstream('web@1', answerWith('web@1'));
    const route = makeRoute(w1.upstream);
    route.sessions.bind('MOVED', w1.upstream, 60_000);
    expect(applySessionReports(route, w0.upstream, parseSessionReport('MOVED; ttl=0'))).toBe(0);
    expect(route.sessions.peek('MOVED')).toBe(w1.upstream);
    expect(w1.upstream.lease.sessions).toBe(1);
  });
});

describe('a session ended by a report its own client never saw', () => {
  const routeCookieFor = (workers: Upstream[], key: Buffer): RouteCookie => ({ name: 'handover_route', key, upstream: (id) => workers.find((w) => w.id === id) });

  it('is not revived by the route cookie issued before the end (side channel, or another client’s response)', async () => {
    await using old = await startUpstream('web@0', (req, res) => {
      // web@0 ends OTHER in its answer to someone else's request.
      if (req.url === '/ends-other') res.setHeader('X-Handover-Session', 'OTHER; ttl=0');
      res.end('old');
    });
    await using fresh = await startUpstream('web@1', (_req, res) => res.end('new'));
    old.upstream.draining = true;
    const key = randomBytes(32);
    const route: Route = makeRoute(fresh.upstream, { routeCookie: routeCookieFor([old.upstream, fresh.upstream], key) });
    await using testProxy = await startProxy(route);
    const issued = Math.floor(Date.now() / 1000);
    for (const id of ['LATE', 'OTHER', 'BYSTANDER']) route.sessions.bind(id, old.upstream, 60_000);

    applySessionReports(route, old.upstream, parseSessionReport('LATE; ttl=0'));
    await get(testProxy.port, '/ends-other', { Cookie: 'demo.sid=BYSTANDER' });
    expect(route.sessions.peek('OTHER')).toBeUndefined();

    // Both clients still hold their route cookies for web@0: each goes to the newest worker.
    for (const id of ['LATE', 'OTHER']) {
      const reply = await get(testProxy.port, '/', { Cookie: `demo.sid=${id}; handover_route=${routeCookieValue(key, 'web@0', id, issued)}` });
      expect(reply.body, id).toBe('new');
    }
    // A session the table lost without an end (a kill -9) is still found by its cookie.
    const lost = await get(testProxy.port, '/', { Cookie: `demo.sid=LOST; handover_route=${routeCookieValue(key, 'web@0', 'LOST', issued)}` });
    expect(lost.body).toBe('old');
  });

  it('an end reported by one worker for a session bound to another changes nothing', async () => {
    await using w0 = await startUpstream('web@0', (_req, res) => {
      res.setHeader('X-Handover-Session', 'THEIRS; ttl=0');
      res.end('web@0');
    });
    await using w1 = await startUpstream('web@1', (_req, res) => res.end('web@1'));
    const route = makeRoute(w0.upstream);
    route.sessions.bind('THEIRS', w1.upstream, 60_000);
    await using testProxy = await startProxy(route);
    await get(testProxy.port, '/', { Cookie: 'demo.sid=MINE' });
    expect(route.sessions.peek('THEIRS')).toBe(w1.upstream);
  });
});
