/** One session's binding. Fields are plain numbers/booleans so a lookup writes in place and allocates nothing. */
export class Binding<O> {
  /** Requests and WebSockets under way for this session (see SessionTable.pin); never evicted while > 0. */
  pins = 0;
  /** Used (looked up or re-bound) since the eviction hand last passed it: it gets a second chance. */
  touched = false;
  /**
   * When the table's user last told the client about this binding (the proxy: sent its route
   * cookie), in whole seconds since the table was made; NEVER when it has not. Seconds from there
   * stay a small integer, which V8 keeps in the object (epoch milliseconds would be a boxed double
   * per session).
   */
  mark = NEVER;
  constructor(
    /** The id as stored (the Map key), so the eviction queue can remove the binding. */
    readonly id: string,
    public owner: O,
    public ttlMs: number,
    public expiresAt: number,
    /** The bucket this binding is filed under; a stale filing elsewhere is ignored. REMOVED once gone. */
    public bucket: number,
  ) {}
}

/** `Binding.mark` of a binding the client was never told about (the smallest small integer). */
export const NEVER = -0x40000000;

/** `bucket` of a binding no longer in the table. */
export const REMOVED = -1;

/**
 * A copy of an id that does not keep the string it was cut from alive (an id parsed out of a
 * header is a slice of the whole header value). Runs once per new session, not per request.
 */
export function ownString(id: string): string {
  // latin1 keeps the copy one byte per character; anything wider needs the lossless utf16le.
  const encoding = ONE_BYTE.test(id) ? 'latin1' : 'utf16le';
  return Buffer.from(id, encoding).toString(encoding);
}
const ONE_BYTE = /^[\x00-\xff]*$/;

/** Queue slack: compacting a queue shorter than this is not worth a pass. */
const SLACK = 4096;

/**
 * The order in which bindings are considered for eviction: a CLOCK (second-chance) queue. New
 * bindings join at the tail; the hand takes from the head. Removed bindings are skipped when the
 * hand reaches them and dropped wholesale by a compaction once they make up half the queue, so the
 * queue holds at most about 2 × size + 4096 entries whatever the churn. Every operation is O(1)
 * amortised: a compaction of n entries happens only after n pushes or hand moves.
 */
export class EvictionQueue<O> {
  private entries: Binding<O>[] = [];
  private head = 0;

  get length(): number {
    return this.entries.length - this.head;
  }

  /** `live` is the table's size: when dead entries outnumber it the queue is compacted. */
  push(binding: Binding<O>, live: number): void {
    this.entries.push(binding);
    if (this.entries.length - this.head > 2 * live + SLACK) this.compact();
  }

  /** The binding at the hand (removed ones included, for the caller to skip), or undefined. */
  private shift(): Binding<O> | undefined {
    if (this.head >= this.entries.length) return undefined;
    const binding = this.entries[this.head] as Binding<O>;
    this.head++;
    if (this.head >= SLACK && this.head * 2 >= this.entries.length) this.compact();
    return binding;
  }

  /**
   * The next binding that may go to make room, looking at no more than `scan` entries: one
   * already expired, or one neither pinned, used since the hand last passed it, nor owned by a
   * draining owner. The others go back to the tail (a used one loses its mark, so it goes if
   * still unused when the hand comes round again). `live` is the table's size.
   */
  victim(now: number, scan: number, live: number): Binding<O> | undefined {
    for (let examined = 0; examined < scan; examined++) {
      const binding = this.shift();
      if (binding === undefined) return undefined;
      if (binding.bucket === REMOVED) continue;
      if (binding.expiresAt <= now && binding.pins === 0) return binding;
      if (binding.pins > 0 || binding.touched || (binding.owner as { draining?: boolean }).draining === true) {
        binding.touched = false;
        this.push(binding, live);
        continue;
      }
      return binding;
    }
    return undefined;
  }

  /** Keeps only the live bindings past the hand, in order. */
  private compact(): void {
    const kept: Binding<O>[] = [];
    for (let i = this.head; i < this.entries.length; i++) {
      const binding = this.entries[i] as Binding<O>;
      if (binding.bucket !== REMOVED) kept.push(binding);
    }
    this.entries = kept;
    this.head = 0;
  }
}
