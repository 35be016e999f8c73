import type { Upstream } from '@handover/proxy';
import { SessionTable, type SessionTableOptions } from '@handover/session-table';
import type { StateStore } from './state-store';
import type { Worker } from './worker';

/** What became of the bindings restored to one worker (see JournaledSessionTable.restore). */
export interface RestoredCounts {
  restored: number;
  /** Carried by a request or reported by the app since the restart. */
  confirmed: number;
  /** Ended on their own since (the app's report, a cleared cookie, the idle timeout). */
  ended: number;
  /** Still unconfirmed when settled, and dropped. */
  dropped: number;
}

/**
 * The session table with a journal: every bind is noted in the store's in-memory journal (one
 * Map.set, no I/O) and written by the store's periodic flush. Unbinds and expiries reach the
 * journal through `onRelease`, which names the id (the owner calls `released` for them).
 *
 * Bindings restored from the store after a restart may be phantoms: the app may have ended them
 * within the flush interval before the previous supervisor died. They are held *unconfirmed*
 * until a request carries the id (a lookup) or the app reports it (a bind), and `settle` drops
 * the ones still unconfirmed, so they cannot keep a detached worker alive on faith.
 */
export class JournaledSessionTable extends SessionTable<Upstream> {
  private readonly journal: StateStore | null;
  /** Restored bindings not seen in use since: id → the worker they were restored to. */
  private readonly unconfirmed = new Map<string, Upstream>();
  private readonly counts = new Map<Upstream, RestoredCounts>();

  constructor(journal: StateStore | null, options: SessionTableOptions<Upstream>) {
    super(options);
    this.journal = journal;
  }

  override lookup(id: string): Upstream | undefined {
    const owner = super.lookup(id);
    // One Map size read per request while nothing is unconfirmed (the usual case).
    if (owner !== undefined && this.unconfirmed.size !== 0) this.confirm(id);
    return owner;
  }

  override bind(id: string, owner: Upstream, ttlMs: number): boolean {
    const fresh = super.bind(id, owner, ttlMs);
    // A session the full table refused (maxSessions) is not stored, so not journaled either:
    // the store stays as bounded as the table. Only a new binding needs the check.
    if (ttlMs > 0 && this.journal !== null && (!fresh || this.peek(id) === owner)) this.journal.bound(id, owner as Worker, ttlMs);
    if (ttlMs > 0 && this.unconfirmed.size !== 0) this.confirm(id);
    return fresh;
  }

  /** Binds a session restored from the store, unconfirmed. */
  restore(id: string, owner: Upstream, ttlMs: number): void {
    super.bind(id, owner, ttlMs);
    if (this.peek(id) !== owner) return; // refused by a full table: neither journaled nor awaited
    this.journal?.bound(id, owner as Worker, ttlMs);
    this.unconfirmed.set(id, owner);
    this.countsOf(owner).restored++;
  }

  /** A session went away (unbind or expiry): if it was unconfirmed, it ended by itself. */
  released(id: string): void {
    const owner = this.unconfirmed.get(id);
    if (owner === undefined) return;
    this.unconfirmed.delete(id);
    this.countsOf(owner).ended++;
  }

  /** Unconfirmed bindings restored to this worker, right now. */
  unconfirmedOf(owner: Upstream): number {
    let n = 0;
    for (const holder of this.unconfirmed.values()) if (holder === owner) n++;
    return n;
  }

  /**
   * Ends the wait for this worker's restored bindings: with `drop`, the unconfirmed ones still
   * bound to it are unbound (its drain no longer waits for them); without, they stay as
   * ordinary bindings. Returns the counts, or null when nothing was restored to it.
   */
  settle(owner: Upstream, drop: boolean): RestoredCounts | null {
    const counts = this.counts.get(owner);
    if (counts === undefined) return null;
    this.counts.delete(owner);
    const ids: string[] = [];
    for (const [id, holder] of this.unconfirmed) if (holder === owner) ids.push(id);
    for (const id of ids) {
      // Out of the unconfirmed set first, so the unbind below is not counted as ended.
      this.unconfirmed.delete(id);
      if (drop && this.peek(id) === owner && this.unbind(id)) counts.dropped++;
    }
    return counts;
  }

  private confirm(id: string): void {
    const owner = this.unconfirmed.get(id);
    if (owner === undefined) return;
    this.unconfirmed.delete(id);
    this.countsOf(owner).confirmed++;
  }

  private countsOf(owner: Upstream): RestoredCounts {
    let counts = this.counts.get(owner);
    if (counts === undefined) this.counts.set(owner, (counts = { restored: 0, confirmed: 0, ended: 0, dropped: 0 }));
    return counts;
  }
}
