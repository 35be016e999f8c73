/** The session table's public types: what it holds, what it reports, how it is set up. */

/** Anything that owns sessions; the table counts them on its lease, and nothing else does. */
export interface SessionOwner {
  readonly lease: SessionCount;
  /** A draining owner's sessions are never evicted to make room. */
  readonly draining?: boolean;
}

/** The session part of an owner's lease (process-table's `Lease` is one). */
export interface SessionCount {
  readonly sessions: number;
  sessionsBound(count: number): void;
  sessionsReleased(count: number): void;
}

/** One live session as `SessionTable.sessionsOf` reports it (times in ms since the epoch). */
export interface SessionDetail {
  id: string;
  lastUsedAt: number;
  /** When it expires if nothing uses it; a session held `open` does not expire meanwhile. */
  expiresAt: number;
  /** Requests and WebSockets under way for it. */
  open: number;
}

export type ReleaseReason = 'unbind' | 'expire' | 'owner-gone' | 'evict';

/**
 * Told of every binding stored and every one that goes away, id by id (see `SessionTable.subscribe`):
 * how a journal or an audit follows the table without the table knowing about it. Called
 * synchronously inside `bind`, `lookup` (a lazy expiry), `unbind` and `sweep`: no I/O in here.
 */
export interface SessionListener<O> {
  /** `id` is now bound to `owner` with `ttlMs`: new, moved from another owner, or renewed. */
  bound?(id: string, owner: O, ttlMs: number): void;
  /**
   * `id` went away (unbound, expired or evicted); `usedAt` is when it was last looked up or
   * bound. Not called for `unbindOwner`, which drops an owner's sessions wholesale.
   */
  released?(id: string, owner: O, reason: ReleaseReason, usedAt: number): void;
}

/** What `onLimit` is told. */
export interface SessionLimitInfo {
  size: number;
  maxSessions: number;
  /** Totals since the table was made. */
  evicted: number;
  refused: number;
}

/** Opaque handle of a pinned binding (see `SessionTable.pin`). */
export interface SessionPin {
  readonly __sessionPin: never;
}

export interface SessionTableOptions<O extends SessionOwner> {
  /** Clock in ms; injectable so tests of expiry need no waiting. */
  now?: () => number;
  /** Width of an expiry bucket in ms: expiry happens up to this much late. */
  bucketMs?: number;
  /**
   * Called after an owner's count went down. `id` is the session that went away (an unbind or
   * an expiry or an eviction); it is undefined for `unbindOwner` (many at once) and for a re-bind to another
   * owner (the id is still bound).
   */
  onRelease?: (owner: O, reason: ReleaseReason, id?: string) => void;
  /** Most sessions held at once (default 1,000,000); a new one beyond makes room or is refused. */
  maxSessions?: number;
  /**
   * Called when a new session finds the table full, once per crossing: again only after the
   * size fell below 90 % of the limit. Synchronous, inside `bind`: defer any I/O.
   */
  onLimit?: (info: SessionLimitInfo) => void;
}

export const DEFAULT_MAX_SESSIONS = 1_000_000;
