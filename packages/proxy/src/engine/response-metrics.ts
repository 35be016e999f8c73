/**
 * Responses by status class and the time to each response head, for `/metrics`. Counted where
 * the head is parsed: the start is the request's message-begin time the engine reads anyway, the
 * end one `Date.now()` per response; then a few array increments, no allocation.
 */

/** Upper bounds of the latency buckets, in ms (Date.now() resolution: the first bucket is "under 1 ms or so"). */
export const LATENCY_BUCKETS_MS: readonly number[] = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];

export interface ResponseMetricsSnapshot {
  /** Responses sent to clients by status class: index 1 = 1xx … 5 = 5xx (index 0 unused). */
  byClass: number[];
  /** The proxy's own answers among them (503 without a worker, 502, 504, 4xx for bad requests). */
  ownByClass: number[];
  /** Non-cumulative counts per bucket of LATENCY_BUCKETS_MS, plus one for larger values. */
  latencyBuckets: number[];
  latencySumMs: number;
  latencyCount: number;
}

export class ResponseMetrics {
  private readonly byClass = [0, 0, 0, 0, 0, 0];
  private readonly ownByClass = [0, 0, 0, 0, 0, 0];
  private readonly buckets = new Float64Array(LATENCY_BUCKETS_MS.length + 1);
  private sumMs = 0;
  private count = 0;

  /** A worker's response head went to the client `ms` after its request began. */
  record(status: number, ms: number): void {
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) this.byClass[cls]!++;
    this.observe(ms);
  }

  /** The proxy answered itself. */
  recordOwn(status: number, ms: number): void {
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) this.ownByClass[cls]!++;
    this.record(status, ms);
  }

  private observe(ms: number): void {
    const value = ms > 0 ? ms : 0;
    let i = 0;
    const bounds = LATENCY_BUCKETS_MS;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.buckets[i]!++;
    this.sumMs += value;
    this.count++;
  }

  snapshot(): ResponseMetricsSnapshot {
    return {
      byClass: [...this.byClass],
      ownByClass: [...this.ownByClass],
      latencyBuckets: [...this.buckets],
      latencySumMs: this.sumMs,
      latencyCount: this.count,
    };
  }
}
