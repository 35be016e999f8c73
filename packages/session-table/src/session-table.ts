/**
 * SessionTable: session id → owning worker, with a sliding idle timeout and a maximum size.
 *
 * Built for the proxy's hot path: `lookup` is one Map.get plus two field writes (no allocation),
 * and expiry is lazy: entries are filed in coarse time buckets when bound and re-filed only when
 * a sweep finds them still alive, so touching a session on every request costs nothing extra.
 *
 * Bounded: at `maxSessions` a new session first takes the place of one already past its idle
 * timeout, else evicts the least recently used one (CLOCK: a session used since the hand last
 * passed gets a second chance) that is neither pinned (a request or WebSocket under way, see
 * `pin`) nor owned by a draining worker (those sessions only shrink, and losing one logs a user
 * out). When none of the next 256 candidates may go, the new session is refused (not stored): its
 * requests still reach the pool's target, and the proxy's route cookie keeps routing it.
 *
 * (A little over 300 lines on purpose: every operation that must keep the count, the shards, the
 * expiry buckets, the eviction queue and the listeners in step is in this one file.)
 */
import { Binding, EvictionQueue, NEVER, REMOVED, ownString } from './binding';
import { ExpiryBuckets } from './expiry-buckets';
import {
  DEFAULT_MAX_SESSIONS,
  type ReleaseReason,
  type SessionDetail,
  type SessionLimitInfo,
  type SessionListener,
  type SessionOwner,
  type SessionPin,
  type SessionTableOptions,
} from './types';

/** Candidates the eviction hand looks at per new session before refusing it. */
const EVICTION_SCAN = 256;
/** Expired entries a full table looks for (in the due buckets) before evicting a live one. */
const EXPIRY_SCAN = 64;

/**
 * Bindings are spread over this many Maps. V8 rehashes a whole Map when it grows or shrinks;
 * with a million sessions in one Map that is a 25 ms stall on a request or a sweep. Shards keep
 * each rehash small.
 */
const SHARDS = 64;

export class SessionTable<O extends SessionOwner> {
  private readonly shards: Map<string, Binding<O>>[] = Array.from({ length: SHARDS }, () => new Map());
  private count = 0;
  private readonly expiry: ExpiryBuckets;
  private readonly now: () => number;
  private readonly onRelease: ((owner: O, reason: ReleaseReason, id?: string) => void) | undefined;
  private readonly onLimit: ((info: SessionLimitInfo) => void) | undefined;
  /** See `subscribe`; usually empty or one or two (a journal, the restored-session audit). */
  private listeners: SessionListener<O>[] = [];
  readonly maxSessions: number;
  private readonly queue = new EvictionQueue<O>();
  /** The limit was reported and the size has not fallen below `rearmBelow` since. */
  private limitReported = false;
  private readonly rearmBelow: number;
  private evicted = 0;
  private refused = 0;
  private limitReached = 0;
  /** The origin of binding marks. */
  private readonly markEpochMs: number;

  constructor(options: SessionTableOptions<O> = {}) {
    this.now = options.now ?? Date.now;
    this.expiry = new ExpiryBuckets(options.bucketMs ?? 1000);
    this.onRelease = options.onRelease;
    this.onLimit = options.onLimit;
    this.maxSessions = Math.max(1, Math.floor(options.maxSessions ?? DEFAULT_MAX_SESSIONS));
    this.rearmBelow = Math.floor(this.maxSessions * 0.9);
    this.markEpochMs = this.now();
  }

  get size(): number {
    return this.count;
  }

  /** Totals since the table was made, and the eviction queue's length (for metrics and tests). */
  get stats(): { evicted: number; refused: number; limitReached: number; queued: number } {
    return { evicted: this.evicted, refused: this.refused, limitReached: this.limitReached, queued: this.queue.length };
  }

  /**
   * Calls the listener for every binding stored and every one that goes away from now on;
   * returns the unsubscribe. Lookups are not reported (they are the hot path).
   */
  subscribe(listener: SessionListener<O>): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((other) => other !== listener);
    };
  }

  /**
   * The owner of a live session, refreshing its idle timeout; undefined when the id is unknown
   * or already past its expiry (then it is released right away).
   */
  lookup(id: string): O | undefined {
    const binding = this.shardOf(id).get(id);
    if (binding === undefined) return undefined;
    const now = this.now();
    // A pinned session is in use (a WebSocket open on it): it does not expire.
    if (binding.expiresAt <= now && binding.pins === 0) {
      this.remove(id, binding, 'expire');
      return undefined;
    }
    binding.expiresAt = now + binding.ttlMs;
    binding.touched = true;
    return binding.owner;
  }

  /** The owner without touching the idle timeout (for inspection). */
  peek(id: string): O | undefined {
    const binding = this.shardOf(id).get(id);
    if (binding === undefined || !this.isLive(binding, this.now())) return undefined;
    return binding.owner;
  }

  /**
   * Binds (or re-binds, or refreshes) a session. A ttl of 0 or less unbinds it. True when the
   * id was not already live on this owner (new, moved, expired, or refused because the table is
   * full): what a caller that tells the client about the binding needs, without a second lookup.
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
      const renewed = existing.owner === owner && this.isLive(existing, now);
      if (existing.owner !== owner) {
        const previous = existing.owner;
        previous.lease.sessionsReleased(1);
        existing.owner = owner;
        existing.mark = NEVER;
        owner.lease.sessionsBound(1);
        this.onRelease?.(previous, 'unbind');
      }
      existing.ttlMs = ttlMs;
      existing.expiresAt = expiresAt;
      existing.touched = true;
      // A shorter ttl than before must be found by an earlier sweep.
      if (this.expiry.isEarlier(expiresAt, existing.bucket)) existing.bucket = this.expiry.file(existing.id, expiresAt);
      if (this.listeners.length !== 0) this.tellBound(existing.id, owner, ttlMs);
      return !renewed;
    }
    if (this.count >= this.maxSessions && !this.makeRoom(now)) {
      this.refused++;
      return true;
    }
    const own = ownString(id);
    const binding = new Binding(own, owner, ttlMs, expiresAt, 0);
    binding.bucket = this.expiry.file(own, expiresAt);
    shard.set(own, binding);
    this.count++;
    owner.lease.sessionsBound(1);
    this.queue.push(binding, this.count);
    if (this.listeners.length !== 0) this.tellBound(own, owner, ttlMs);
    return true;
  }

  /**
   * Protects a session bound to `owner` from eviction until `unpin` (the proxy pins a session
   * while one of its requests or WebSockets is under way). O(1); undefined when the id is not
   * bound to that owner. A pinned session does not expire either (it is in use); pins do not stop
   * unbinds or a move to another owner.
   */
  pin(id: string, owner: O): SessionPin | undefined {
    const binding = this.shardOf(id).get(id);
    if (binding === undefined || binding.owner !== owner) return undefined;
    binding.pins++;
    return binding as unknown as SessionPin;
  }

  /**
   * Gives a pin back. With `refresh` (a WebSocket closed), the session's idle clock starts again
   * now: it was in use all the while it was held. A request's unpin needs none (its lookup did it).
   */
  unpin(pin: SessionPin, refresh = false): void {
    const binding = pin as unknown as Binding<O>;
    if (binding.pins > 0) binding.pins--;
    if (refresh && binding.bucket !== REMOVED) {
      binding.expiresAt = Math.max(binding.expiresAt, this.now() + binding.ttlMs);
      binding.touched = true;
    }
  }

  /** Not past its idle timeout, or held (pinned): a held session does not expire. */
  private isLive(binding: Binding<O>, now: number): boolean {
    return binding.expiresAt > now || binding.pins > 0;
  }

  /**
   * Notes that the caller told the client about this binding at `atMs` (the proxy: it sent the
   * route cookie issued then). True when the id is bound to `owner`. A new binding, or one moved
   * to another owner, has no mark.
   */
  mark(id: string, owner: O, atMs: number): boolean {
    const binding = this.shardOf(id).get(id);
    if (binding === undefined || binding.owner !== owner) return false;
    binding.mark = this.secondsOf(atMs);
    return true;
  }

  /**
   * When the binding of `id` to `owner` was last used (looked up or bound), if its mark is more
   * than `everyMs` older than that, or it has none: the mark moves there and that time (ms) is
   * returned; otherwise 0. One Map.get and no clock read (the lookup that routed the request
   * read it): the proxy calls it on every response to renew an aging route cookie.
   */
  renew(id: string, owner: O, everyMs: number): number {
    const binding = this.shardOf(id).get(id);
    if (binding === undefined || binding.owner !== owner) return 0;
    const usedAt = binding.expiresAt - binding.ttlMs;
    const used = this.secondsOf(usedAt);
    if (binding.mark !== NEVER && (used - binding.mark) * 1000 <= everyMs) return 0;
    binding.mark = used;
    return usedAt;
  }

  /** When the live binding of `id` to `owner` was last looked up or bound (ms); undefined when there is none. */
  lastUsedAt(id: string, owner: O): number | undefined {
    const binding = this.shardOf(id).get(id);
    if (binding === undefined || binding.owner !== owner || !this.isLive(binding, this.now())) return undefined;
    return binding.expiresAt - binding.ttlMs;
  }

  /** A time as whole seconds since the table was made (a small integer for 34 years either way). */
  private secondsOf(ms: number): number {
    return Math.max(NEVER + 1, Math.floor((ms - this.markEpochMs) / 1000));
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
          binding.bucket = REMOVED;
          dropped++;
        }
      }
    }
    if (dropped > 0) {
      this.count -= dropped;
      if (this.count < this.rearmBelow) this.limitReported = false;
      owner.lease.sessionsReleased(dropped);
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
    let expired = 0;
    let examined = 0;
    for (let ids = this.expiry.due(now); ids !== undefined; ids = this.expiry.due(now)) {
      const key = this.expiry.current;
      while (ids.length > 0) {
        if (examined >= budget) return { expired, done: false };
        // Looking at the clock costs more than a map operation: every 64 entries is enough.
        if ((examined & 63) === 63 && performance.now() > deadline) return { expired, done: false };
        examined++;
        const id = ids.pop() as string;
        const binding = this.shardOf(id).get(id);
        if (binding === undefined || binding.bucket !== key) continue;
        if (binding.expiresAt > now) {
          // Touched since it was filed: file it again where its expiry now falls.
          binding.bucket = this.expiry.file(id, binding.expiresAt);
        } else if (binding.pins > 0) {
          // Held open (a WebSocket): looked at again one idle timeout from now.
          binding.bucket = this.expiry.file(id, now + binding.ttlMs);
        } else {
          this.remove(id, binding, 'expire');
          expired++;
        }
      }
      this.expiry.walked();
    }
    return { expired, done: true };
  }

  /**
   * The live sessions of an owner with their timing, for inspection (a drain's detail): the
   * `limit` that expire last, latest first, each with when it was last used and expires if
   * unused (ms) and how many requests or WebSockets hold it (`open`; a held session does not
   * expire); and how many there are in all. A full scan of the table (no copy of it): for an
   * operator's query, not per request.
   */
  sessionsOf(owner: O, limit = Number.POSITIVE_INFINITY): { count: number; latest: SessionDetail[] } {
    const now = this.now();
    // Kept sorted, latest expiry first, at most `limit` long.
    const latest: Binding<O>[] = [];
    let count = 0;
    for (const shard of this.shards) {
      for (const binding of shard.values()) {
        if (binding.owner !== owner || !this.isLive(binding, now)) continue;
        count++;
        if (latest.length >= limit && (latest.length === 0 || binding.expiresAt <= latest[latest.length - 1]!.expiresAt)) continue;
        let lo = 0;
        let hi = latest.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (latest[mid]!.expiresAt >= binding.expiresAt) lo = mid + 1;
          else hi = mid;
        }
        latest.splice(lo, 0, binding);
        if (latest.length > limit) latest.pop();
      }
    }
    return {
      count,
      latest: latest.map((b) => ({ id: b.id, lastUsedAt: b.expiresAt - b.ttlMs, expiresAt: b.expiresAt, open: b.pins })),
    };
  }

  /** Session ids per owner, for inspection and tests (a full scan). */
  idsOf(owner: O): string[] {
    const ids: string[] = [];
    for (const shard of this.shards) for (const [id, binding] of shard) if (binding.owner === owner) ids.push(id);
    return ids;
  }

  private remove(id: string, binding: Binding<O>, reason: ReleaseReason): void {
    this.shardOf(id).delete(id);
    binding.bucket = REMOVED;
    this.count--;
    if (this.count < this.rearmBelow) this.limitReported = false;
    binding.owner.lease.sessionsReleased(1);
    this.onRelease?.(binding.owner, reason, id);
    for (const listener of this.listeners) listener.released?.(binding.id, binding.owner, reason, binding.expiresAt - binding.ttlMs);
  }

  private tellBound(id: string, owner: O, ttlMs: number): void {
    for (const listener of this.listeners) listener.bound?.(id, owner, ttlMs);
  }

  /**
   * The table is full and a new session wants in: expire one that is already due, else evict
   * one (see the file comment). True when there is room now. Bounded work per call.
   */
  private makeRoom(now: number): boolean {
    if (!this.limitReported) {
      this.limitReported = true;
      this.limitReached++;
      this.onLimit?.({ size: this.count, maxSessions: this.maxSessions, evicted: this.evicted, refused: this.refused });
    }
    if (this.sweep(EXPIRY_SCAN).expired > 0) return true;
    const victim = this.queue.victim(now, EVICTION_SCAN, this.count);
    if (victim === undefined) return false;
    if (victim.expiresAt <= now) this.remove(victim.id, victim, 'expire');
    else {
      this.evicted++;
      this.remove(victim.id, victim, 'evict');
    }
    return true;
  }

  private shardOf(id: string): Map<string, Binding<O>> {
    // The last character of a random id is as random as any; & keeps it in range for any code.
    return this.shards[id.charCodeAt(id.length - 1) & (SHARDS - 1)] as Map<string, Binding<O>>;
  }
}
