import type { SessionSample } from '@handover/process-table';

/** The last `capacity` samples of session counts per worker, for the console's chart, oldest first. */
export class SessionHistory {
  private readonly samples: SessionSample[] = [];

  constructor(private readonly capacity: number) {}

  record(sample: SessionSample): void {
    this.samples.push(sample);
    if (this.samples.length > this.capacity + 1000) this.samples.splice(0, this.samples.length - this.capacity);
  }

  /** The samples taken at or after `sinceMs` (all of them without), oldest first. */
  list(sinceMs = Number.NEGATIVE_INFINITY): SessionSample[] {
    const kept = this.samples.length > this.capacity ? this.samples.slice(-this.capacity) : this.samples;
    let first = kept.length;
    // Binary search: samples are in time order.
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Date.parse(kept[mid]!.at) < sinceMs) lo = mid + 1;
      else hi = mid;
    }
    first = lo;
    return kept.slice(first);
  }

  /** The newest sample. */
  last(): SessionSample | undefined {
    return this.samples.at(-1);
  }

  get size(): number {
    return Math.min(this.samples.length, this.capacity);
  }
}
