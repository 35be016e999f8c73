import type { SessionListener, SessionOwner, SessionTable } from '@handover/session-table';

/** What became of the bindings restored to one worker (see RestoredSessions). */
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
 * Bindings restored from the store after a restart may be phantoms: the app may have ended them
 * within the flush interval before the previous supervisor died. They are held *unconfirmed*
 * until a request carries the id or the app reports it, and `settle` drops the ones still
 * unconfirmed, so they cannot keep a detached worker alive on faith.
 *
 * It follows the table as a listener (binds confirm, releases end); a request's lookup is seen
 * afterwards through the binding's last use, so the proxy's hot path pays nothing for this.
 */
export class RestoredSessions<O extends SessionOwner> implements SessionListener<O> {
  /** Restored bindings not seen in use since: id → the owner they were restored to. */
  private readonly unconfirmed = new Map<string, O>();
  private readonly counts = new Map<O, RestoredCounts & { restoredAt: number }>();

  constructor(
    private readonly table: SessionTable<O>,
    private readonly now: () => number = Date.now,
  ) {
    table.subscribe(this);
  }

  /** Binds a session restored from the store, unconfirmed (a full table may refuse it). */
  restore(id: string, owner: O, ttlMs: number): void {
    this.table.bind(id, owner, ttlMs);
    if (this.table.peek(id) !== owner) return;
    this.unconfirmed.set(id, owner);
    const counts = this.countsOf(owner);
    counts.restored++;
    counts.restoredAt = this.now();
  }

  /** SessionListener: the app reported it (or a request re-bound it): confirmed. */
  bound(id: string): void {
    if (this.unconfirmed.size === 0) return;
    const owner = this.unconfirmed.get(id);
    if (owner === undefined) return;
    this.unconfirmed.delete(id);
    this.countsOf(owner).confirmed++;
  }

  /** SessionListener: it went away; confirmed if a request used it first, else it ended by itself. */
  released(id: string, _owner: O, _reason: string, usedAt: number): void {
    if (this.unconfirmed.size === 0) return;
    const owner = this.unconfirmed.get(id);
    if (owner === undefined) return;
    this.unconfirmed.delete(id);
    const counts = this.countsOf(owner);
    if (usedAt > counts.restoredAt) counts.confirmed++;
    else counts.ended++;
  }

  /**
   * Ends the wait for this owner's restored bindings: with `drop`, the ones no request used and
   * the app did not report are unbound (its drain no longer waits for them); without, they stay
   * as ordinary bindings. Returns the counts, or null when nothing was restored to it.
   */
  settle(owner: O, drop: boolean): RestoredCounts | null {
    const counts = this.counts.get(owner);
    if (counts === undefined) return null;
    const ids: string[] = [];
    for (const [id, holder] of this.unconfirmed) if (holder === owner) ids.push(id);
    for (const id of ids) {
      // Out of the unconfirmed set first, so the unbind below is not counted as ended.
      this.unconfirmed.delete(id);
      if (this.usedSinceRestore(id, owner)) counts.confirmed++;
      else if (drop && this.table.peek(id) === owner && this.table.unbind(id)) counts.dropped++;
    }
    this.counts.delete(owner);
    const { restored, confirmed, ended, dropped } = counts;
    return { restored, confirmed, ended, dropped };
  }

  /** A lookup since the restore moved the binding's last use past the restore time. */
  private usedSinceRestore(id: string, owner: O): boolean {
    const usedAt = this.table.lastUsedAt(id, owner);
    return usedAt !== undefined && usedAt > (this.counts.get(owner)?.restoredAt ?? Number.POSITIVE_INFINITY);
  }

  private countsOf(owner: O): RestoredCounts & { restoredAt: number } {
    let counts = this.counts.get(owner);
    if (counts === undefined) this.counts.set(owner, (counts = { restored: 0, confirmed: 0, ended: 0, dropped: 0, restoredAt: this.now() }));
    return counts;
  }
}
