/**
 * Session ids filed by when they expire, in coarse time buckets (`bucketMs` wide), so a sweep
 * walks only the due ones, oldest first. An id is filed when bound and again only when a sweep
 * finds it still alive (touching a session files nothing: see SessionTable). A bucket holds ids,
 * not bindings; the table ignores a stale filing (the binding's `bucket` says where it is filed).
 */
export class ExpiryBuckets {
  private readonly buckets = new Map<number, string[]>();
  /** Lowest bucket that may still hold ids; sweeps walk forward from here. */
  private sweptUpTo = -1;

  constructor(private readonly bucketMs: number) {}

  /** Files an id where `expiresAt` falls (never in a bucket already swept); returns that bucket. */
  file(id: string, expiresAt: number): number {
    let bucket = this.bucketOf(expiresAt);
    if (this.sweptUpTo >= 0 && bucket < this.sweptUpTo) bucket = this.sweptUpTo;
    let ids = this.buckets.get(bucket);
    if (ids === undefined) {
      ids = [];
      this.buckets.set(bucket, ids);
    }
    ids.push(id);
    return bucket;
  }

  /** True when filing at `expiresAt` would be earlier than `bucket` (a shorter ttl than before). */
  isEarlier(expiresAt: number, bucket: number): boolean {
    return this.bucketOf(expiresAt) < bucket;
  }

  /**
   * The ids of the oldest bucket that is due at `now` and not yet walked (`current` is its key),
   * or undefined when none is. The caller pops ids off it, then calls `walked`.
   */
  due(now: number): string[] | undefined {
    const last = Math.floor(now / this.bucketMs) - 1;
    if (this.sweptUpTo < 0) this.sweptUpTo = this.firstBucket() ?? last + 1;
    while (this.sweptUpTo <= last) {
      const ids = this.buckets.get(this.sweptUpTo);
      if (ids !== undefined) return ids;
      this.sweptUpTo++;
    }
    return undefined;
  }

  /** The key of the bucket `due` returned. */
  get current(): number {
    return this.sweptUpTo;
  }

  /** The bucket `due` returned is empty now: forget it and move on. */
  walked(): void {
    this.buckets.delete(this.sweptUpTo);
    this.sweptUpTo++;
  }

  private bucketOf(expiresAt: number): number {
    // Filed one bucket late so an id is never examined before its expiry has passed.
    return Math.floor(expiresAt / this.bucketMs) + 1;
  }

  private firstBucket(): number | undefined {
    let first: number | undefined;
    for (const key of this.buckets.keys()) if (first === undefined || key < first) first = key;
    return first;
  }
}
