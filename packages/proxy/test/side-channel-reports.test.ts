import { describe, expect, it } from 'vitest';
import { applySessionReports, parseSessionReport } from '../src/index';
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
