/**
 * SessionTable: session id → owning worker, with a sliding idle timeout.
 *
 * Built for the proxy's hot path: `lookup` is one Map.get plus a number write (no allocation),
 * and expiry is lazy: entries are filed in coarse time buckets when bound and re-filed only when
 * a sweep finds them still alive, so touching a session on every request costs nothing extra.
 */

/** Anything that owns sessions; the table keeps `sessions` equal to the ids bound to it. */
export interface SessionOwner {
  sessions: number;
}

export type ReleaseReason = 'unbind' | 'expire' | 'owner-gone';

export interface SessionTableOptions<O extends SessionOwner> {
  /** Clock in ms; injectable so tests of expiry need no waiting. */
  now?: () => number;
  /** Width of an expiry bucket in ms: expiry happens up to this much late. */
  bucketMs?: number;
  /**
   * Called after an owner's count went down. `id` is the session that went away (an unbind or
   * an expiry); it is undefined for `unbindOwner` (many at once) and for a re-bind to another
   * owner (the id is still bound).
   */
  onRelease?: (owner: O, reason: ReleaseReason, id?: string) => void;
}

class Binding<O> {
  constructor(
    public owner: O,
    public ttlMs: number,
    public expiresAt: number,
    /** The bucket this binding is filed under; a stale filing elsewhere is ignored. */
    public bucket: number,
  ) {}
}

/**
 * Bindings are spread over this many Maps. V8 rehashes a whole Map when it grows or shrinks;
 * with a million sessions in one Map that is a 25 ms stall on a request or a sweep. Shards keep
 * each rehash small.
 */
const SHARDS = 64;

/**
 * A copy of an id that does not keep the string it was cut from alive (an id parsed out of a
 * header is a slice of the whole header value). Runs once per new session, not per request.
 */
function ownString(id: string): string {
  // latin1 keeps the copy one byte per character; anything wider needs the lossless utf16le.
  const encoding = ONE_BYTE.test(id) ? 'latin1' : 'utf16le';
  return Buffer.from(id, encoding).toString(encoding);
}
const ONE_BYTE = /^[\x00-\xff]*$/;

export class SessionTable<O extends SessionOwner> {
  private readonly shards: Map<string, Binding<O>>[] = Array.from({ length: SHARDS }, () => new Map());
  private count = 0;
  private readonly buckets = new Map<number, string[]>();
  private readonly now: () => number;
  private readonly bucketMs: number;
  private readonly onRelease: ((owner: O, reason: ReleaseReason, id?: string) => void) | undefined;
  /** Lowest bucket that may still hold entries; sweeps walk forward from here. */
  private sweptUpTo = -1;

  constructor(options: SessionTableOptions<O> = {}) {
    this.now = options.now ?? Date.now;
    this.bucketMs = options.bucketMs ?? 1000;
    this.onRelease = options.onRelease;
  }

  get size(): number {
    return this.count;
  }

  /**
   * The owner of a live session, refreshing its idle timeout; undefined when the id is unknown
   * or already past its expiry (then it is released right away).
   */
  lookup(id: string): O | undefined {
    const binding = this.shardOf(id).get(id);
    if (binding === undefined) return undefined;
    const now = this.now();
    if (binding.expiresAt <= now) {
      this.remove(id, binding, 'expire');
      return undefined;
    }
    binding.expiresAt = now + binding.ttlMs;
    return binding.owner;
  }

  /** The owner without touching the idle timeout (for inspection). */
  peek(id: string): O | undefined {
    const binding = this.shardOf(id).get(id);
    if (binding === undefined || binding.expiresAt <= this.now()) return undefined;
    return binding.owner;
  }

  /**
   * Binds (or re-binds, or refreshes) a session. A ttl of 0 or less unbinds it. True when the
   * id was not already live on this owner (new, moved, or expired): what a caller that tells
   * the client about the binding needs, without a second lookup.
   */
  bind(id: string, owner: O, ttlMs: number): boolean {
    if (ttlMs <= 0) {
      this.unbind(id);
      return false;
    }
    const now = this.now();
    const expiresAt = now + ttlMs;
    const shard = this.shardOf(id);
    const existing = shard.get(id);
    if (existing !== undefined) {
      const renewed = existing.owner === owner && existing.expiresAt > now;
      if (existing.owner !== owner) {
        const previous = existing.owner;
        previous.sessions--;
        existing.owner = owner;
        owner.sessions++;
        this.onRelease?.(previous, 'unbind');
      }
      existing.ttlMs = ttlMs;
      existing.expiresAt = expiresAt;
      // A shorter ttl than before must be found by an earlier sweep.
      const bucket = this.bucketOf(expiresAt);
      if (bucket < existing.bucket) existing.bucket = this.file(id, bucket);
      return !renewed;
    }
    const own = ownString(id);
    const binding = new Binding(owner, ttlMs, expiresAt, 0);
    binding.bucket = this.file(own, this.bucketOf(expiresAt));
    shard.set(own, binding);
    this.count++;
    owner.sessions++;
    return true;
  }

  /** Ends a session; true when it was bound. */
  unbind(id: string): boolean {
    const binding = this.shardOf(id).get(id);
    if (binding === undefined) return false;
    this.remove(id, binding, 'unbind');
    return true;
  }

  /**
   * Drops every session of an owner (its process died); returns how many were dropped.
   * A scan of the table: this happens on a crash, not per request.
   */
  unbindOwner(owner: O): number {
    let dropped = 0;
    for (const shard of this.shards) {
      for (const [id, binding] of shard) {
        if (binding.owner === owner) {
          shard.delete(id);
          dropped++;
        }
      }
    }
    if (dropped > 0) {
      this.count -= dropped;
      owner.sessions -= dropped;
      this.onRelease?.(owner, 'owner-gone');
    }
    return dropped;
  }

  /**
   * Expires sessions whose idle timeout has passed. Stops after `budget` entries have been
   * examined or `maxMs` of work, so a huge table never blocks the event loop (shards of a
   * uniformly filled table tend to rehash together: the time limit bounds that too); returns
   * how many expired and whether the sweep got through every due bucket.
   */
  sweep(budget = Number.POSITIVE_INFINITY, maxMs = Number.POSITIVE_INFINITY): { expired: number; done: boolean } {
    const deadline = maxMs === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : performance.now() + maxMs;
    const now = this.now();
    const last = Math.floor(now / this.bucketMs) - 1;
    let expired = 0;
    let examined = 0;
    if (this.sweptUpTo < 0) this.sweptUpTo = this.firstBucket() ?? last + 1;
    while (this.sweptUpTo <= last) {
      const key = this.sweptUpTo;
      const ids = this.buckets.get(key);
      if (ids !== undefined) {
        while (ids.length > 0) {
          if (examined >= budget) return { expired, done: false };
          // Looking at the clock costs more than a map operation: every 64 entries is enough.
          if ((examined & 63) === 63 && performance.now() > deadline) return { expired, done: false };
          examined++;
          const id = ids.pop() as string;
          const binding = this.shardOf(id).get(id);
          if (binding === undefined || binding.bucket !== key) continue;
          if (binding.expiresAt <= now) {
            this.remove(id, binding, 'expire');
            expired++;
          } else {
            // Touched since it was filed: file it again where its expiry now falls.
            binding.bucket = this.file(id, this.bucketOf(binding.expiresAt));
          }
        }
        this.buckets.delete(key);
      }
      this.sweptUpTo++;
    }
    return { expired, done: true };
  }

  /** Session ids per owner, for inspection and tests (a full scan). */
  idsOf(owner: O): string[] {
    const ids: string[] = [];
    for (const shard of this.shards) for (const [id, binding] of shard) if (binding.owner === owner) ids.push(id);
    return ids;
  }

  private remove(id: string, binding: Binding<O>, reason: ReleaseReason): void {
    this.shardOf(id).delete(id);
    this.count--;
    binding.owner.sessions--;
    this.onRelease?.(binding.owner, reason, id);
  }

  private shardOf(id: string): Map<string, Binding<O>> {
    // The last character of a random id is as random as any; & keeps it in range for any code.
    return this.shards[id.charCodeAt(id.length - 1) & (SHARDS - 1)] as Map<string, Binding<O>>;
  }

  private bucketOf(expiresAt: number): number {
    // Filed one bucket late so an entry is never examined before its expiry has passed.
    return Math.floor(expiresAt / this.bucketMs) + 1;
  }

  /** Files an id under a bucket (never one already swept); returns the bucket used. */
  private file(id: string, bucket: number): number {
    if (this.sweptUpTo >= 0 && bucket < this.sweptUpTo) bucket = this.sweptUpTo;
    let ids = this.buckets.get(bucket);
    if (ids === undefined) {
      ids = [];
      this.buckets.set(bucket, ids);
    }
    ids.push(id);
    return bucket;
  }

  private firstBucket(): number | undefined {
    let first: number | undefined;
    for (const key of this.buckets.keys()) if (first === undefined || key < first) first = key;
    return first;
  }
}
