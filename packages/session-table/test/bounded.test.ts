import { describe, expect, it } from 'vitest';
import { SessionTable, type ReleaseReason, type SessionOwner } from '../src/index';
import { sessionCount } from './owners';

interface Owner extends SessionOwner {
  name: string;
  draining: boolean;
}

function owner(name: string, draining = false): Owner {
  return { name, lease: sessionCount(), draining };
}

function setup(maxSessions: number) {
  const clock = { now: 1_000_000 };
  const released: Array<[string, ReleaseReason, string | undefined]> = [];
  const limits: Array<{ size: number; maxSessions: number }> = [];
  const table = new SessionTable<Owner>({
    now: () => clock.now,
    maxSessions,
    onRelease: (o, reason, id) => released.push([o.name, reason, id]),
    onLimit: (info) => limits.push({ size: info.size, maxSessions: info.maxSessions }),
  });
  return { clock, released, limits, table };
}

describe('SessionTable: bounded size', () => {
  it('defaults to a generous limit', () => {
    expect(new SessionTable().maxSessions).toBe(1_000_000);
  });

  it('makes room by evicting the session bound longest ago and not used since', () => {
    const { table, released, limits } = setup(3);
    const a = owner('a');
    for (const id of ['s1', 's2', 's3']) table.bind(id, a, 60_000);
    expect(limits).toEqual([]);
    expect(table.bind('s4', a, 60_000)).toBe(true);
    expect(table.size).toBe(3);
    expect(a.lease.sessions).toBe(3);
    expect(table.peek('s1')).toBeUndefined();
    expect(table.peek('s4')).toBe(a);
    expect(released).toEqual([['a', 'evict', 's1']]);
    expect(table.stats).toMatchObject({ evicted: 1, refused: 0 });
    expect(limits).toEqual([{ size: 3, maxSessions: 3 }]);
  });

  it('gives a session used since the last pass a second chance (approximately least recently used)', () => {
    const { table } = setup(3);
    const a = owner('a');
    for (const id of ['s1', 's2', 's3']) table.bind(id, a, 60_000);
    expect(table.lookup('s1')).toBe(a);
    table.bind('s4', a, 60_000);
    expect(table.peek('s1')).toBe(a);
    expect(table.peek('s2')).toBeUndefined();
    // A refresh by the worker (a re-bind) counts as use too.
    table.bind('s3', a, 60_000);
    expect(table.lookup('s1')).toBe(a);
    table.bind('s5', a, 60_000);
    expect(table.peek('s1')).toBe(a);
    expect(table.peek('s3')).toBe(a);
    expect(table.peek('s4')).toBeUndefined();
  });

  it('takes a session already past its idle timeout first, as an expiry', () => {
    const { table, clock, released } = setup(2);
    const a = owner('a');
    table.bind('long', a, 60_000);
    table.bind('short', a, 1000);
    clock.now += 3000; // past its expiry bucket (1 s wide, filed one late)
    table.bind('new', a, 60_000);
    expect(table.peek('long')).toBe(a);
    expect(released).toEqual([['a', 'expire', 'short']]);
    expect(table.stats.evicted).toBe(0);
  });

  it('never evicts a pinned session (request in flight, open WebSocket) nor one of a draining worker', () => {
    const { table } = setup(3);
    const attached = owner('attached');
    const old = owner('old', true);
    table.bind('kept', old, 60_000);
    table.bind('busy', attached, 60_000);
    table.bind('idle', attached, 60_000);
    const pin = table.pin('busy', attached);
    expect(pin).toBeDefined();
    table.bind('new', attached, 60_000);
    expect(table.peek('idle')).toBeUndefined();
    expect(table.peek('kept')).toBe(old);
    expect(table.peek('busy')).toBe(attached);
    // Over many more binds the protected two stay; only the newcomers churn.
    for (let i = 0; i < 100; i++) table.bind(`n${i}`, attached, 60_000);
    expect(table.peek('kept')).toBe(old);
    expect(table.peek('busy')).toBe(attached);
    expect(table.size).toBe(3);
    expect(old.lease.sessions + attached.lease.sessions).toBe(3);
  });

  it('refuses a new session when every candidate is protected, and takes it once one is not', () => {
    const { table, limits } = setup(2);
    const attached = owner('attached');
    const old = owner('old', true);
    table.bind('kept', old, 60_000);
    table.bind('busy', attached, 60_000);
    const pin = table.pin('busy', attached)!;
    // "Not live on this owner", so the caller may still tell the client (route cookie).
    expect(table.bind('refused', attached, 60_000)).toBe(true);
    expect(table.peek('refused')).toBeUndefined();
    expect(table.size).toBe(2);
    expect(attached.lease.sessions).toBe(1);
    expect(table.stats).toMatchObject({ evicted: 0, refused: 1 });
    expect(limits).toHaveLength(1);
    table.unpin(pin);
    table.bind('taken', attached, 60_000);
    expect(table.peek('taken')).toBe(attached);
    expect(table.peek('busy')).toBeUndefined();
    expect(table.peek('kept')).toBe(old);
  });

  it('pins only a session bound to the given owner; pins nest', () => {
    const { table } = setup(1);
    const a = owner('a');
    const b = owner('b');
    table.bind('s', a, 60_000);
    expect(table.pin('s', b)).toBeUndefined();
    expect(table.pin('nope', a)).toBeUndefined();
    const first = table.pin('s', a)!;
    const second = table.pin('s', a)!;
    table.unpin(first);
    table.bind('t', a, 60_000);
    expect(table.peek('s')).toBe(a);
    table.unpin(second);
    table.unpin(second); // one too many: harmless
    table.bind('t', a, 60_000);
    expect(table.peek('t')).toBe(a);
    expect(table.peek('s')).toBeUndefined();
  });

  it('reports reaching the limit once per crossing, not per bind', () => {
    const { table, limits } = setup(10);
    const a = owner('a');
    for (let i = 0; i < 1000; i++) table.bind(`s${i}`, a, 60_000);
    expect(limits).toHaveLength(1);
    expect(table.stats.evicted).toBe(990);
    // Back under 90 % of the limit, then full again: a second report.
    for (const id of table.idsOf(a).slice(0, 2)) table.unbind(id);
    table.bind('x1', a, 60_000);
    expect(limits).toHaveLength(1);
    for (const id of table.idsOf(a).slice(0, 2)) table.unbind(id);
    for (let i = 0; i < 3; i++) table.bind(`y${i}`, a, 60_000);
    expect(limits).toHaveLength(1); // full again, but nothing needed room yet
    table.bind('y3', a, 60_000);
    expect(limits).toHaveLength(2);
    expect(table.stats.limitReached).toBe(2);
  });

  it('holds at most maxSessions under a flood of new ids, and its bookkeeping stays bounded', () => {
    const { table } = setup(100);
    const a = owner('a');
    const legit = owner('legit', true);
    table.bind('user', legit, 60_000);
    for (let i = 0; i < 200_000; i++) {
      table.bind(`attacker-${i}`, a, 60_000);
      if (table.size > 100) throw new Error(`size ${table.size} after ${i}`);
    }
    expect(table.peek('user')).toBe(legit);
    expect(a.lease.sessions + legit.lease.sessions).toBe(100);
    expect(table.stats.queued).toBeLessThanOrEqual(2 * 100 + 4096);
  });

  it('does not leak bookkeeping when sessions come and go below the limit', () => {
    const { table } = setup(1_000_000);
    const a = owner('a');
    for (let i = 0; i < 100_000; i++) {
      table.bind(`s${i}`, a, 60_000);
      if (i >= 10) table.unbind(`s${i - 10}`);
    }
    expect(table.size).toBe(10);
    expect(table.stats.queued).toBeLessThanOrEqual(2 * 10 + 4096);
    table.unbindOwner(a);
    table.bind('after', a, 60_000);
    expect(table.stats.queued).toBeLessThanOrEqual(2 + 4096);
  });

  it('an owner that went away leaves nothing for eviction to trip on', () => {
    const { table } = setup(3);
    const a = owner('a');
    const b = owner('b');
    for (const id of ['a1', 'a2', 'a3']) table.bind(id, a, 60_000);
    table.unbindOwner(a);
    for (const id of ['b1', 'b2', 'b3', 'b4']) table.bind(id, b, 60_000);
    expect(table.size).toBe(3);
    expect(b.lease.sessions).toBe(3);
    expect(table.peek('b1')).toBeUndefined();
  });
});

describe('SessionTable: marks (when the client was last told about a binding)', () => {
  it('renews a binding whose mark is older than asked, as of its last use, without reading the clock', () => {
    const { table, clock } = setup(10);
    const a = owner('a');
    const b = owner('b');
    const t0 = clock.now;
    table.bind('s', a, 60_000);
    // Never marked: due at once, as of the bind.
    expect(table.renew('s', a, 30_000)).toBe(t0);
    expect(table.renew('s', a, 30_000)).toBe(0);
    clock.now = t0 + 20_000;
    table.lookup('s');
    expect(table.renew('s', a, 30_000)).toBe(0);
    clock.now = t0 + 31_000;
    table.lookup('s');
    clock.now = t0 + 59_000; // later than the last use: renew reports the use, not the clock
    expect(table.renew('s', a, 30_000)).toBe(t0 + 31_000);
    expect(table.renew('s', b, 0)).toBe(0); // not b's
    expect(table.renew('nope', a, 0)).toBe(0);
  });

  it('takes a mark set by the caller, and drops it when the session moves to another owner', () => {
    const { table, clock } = setup(10);
    const a = owner('a');
    const b = owner('b');
    table.bind('s', a, 60_000);
    expect(table.mark('s', a, clock.now)).toBe(true);
    expect(table.mark('s', b, clock.now)).toBe(false);
    expect(table.renew('s', a, 1000)).toBe(0);
    table.bind('s', b, 60_000);
    expect(table.renew('s', b, 1000)).toBe(clock.now);
  });
});
