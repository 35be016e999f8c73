import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_MS } from '../src/index';
import { get, makeRoute, startProxy, startUpstream } from './helpers';

/** What `/metrics` reads from each proxy: responses by status class and the time to their head. */
describe('response metrics', () => {
  it('counts the workers’ answers and the proxy’s own by status class, and times each head', async () => {
    await using w0 = await startUpstream('web@0', (req, res) => {
      const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status') ?? 200);
      const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
      setTimeout(() => {
        res.statusCode = status;
        res.end('web@0');
      }, delay);
    });
    const route = makeRoute(w0.upstream);
    await using testProxy = await startProxy(route);
    const { port, proxy } = testProxy;
    expect(proxy.stats().responses.latencyCount).toBe(0);

    await get(port, '/');
    await get(port, '/?status=404');
    await get(port, '/?status=500&delay=30');
    route.target = undefined; // no worker for a new session: the proxy answers 503 itself
    expect((await get(port, '/')).status).toBe(503);

    const { byClass, ownByClass, latencyBuckets, latencyCount, latencySumMs } = proxy.stats().responses;
    expect(byClass).toEqual([0, 0, 1, 0, 1, 2]);
    expect(ownByClass).toEqual([0, 0, 0, 0, 0, 1]);
    expect(latencyCount).toBe(4);
    expect(latencyBuckets.reduce((a, b) => a + b, 0)).toBe(4);
    expect(latencyBuckets).toHaveLength(LATENCY_BUCKETS_MS.length + 1);
    // The delayed answer took at least its 30 ms, so it sits above the 25 ms bucket.
    const above25 = latencyBuckets.slice(LATENCY_BUCKETS_MS.indexOf(25) + 1).reduce((a, b) => a + b, 0);
    expect(above25).toBeGreaterThanOrEqual(1);
    expect(latencySumMs).toBeGreaterThanOrEqual(30);
  });

});
