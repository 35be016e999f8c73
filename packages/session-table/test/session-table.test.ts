import { describe, expect, it } from 'vitest';
import { SessionTable, type ReleaseReason, type SessionOwner } from '../src/index';
import { sessionCount } from './owners';

interface Owner extends SessionOwner {
  name: string;
}

function owner(name: string): Owner {
  return { name, lease: sessionCount() };
}

function setup(bucketMs = 1000) {
  const clock = { now: 10_000 };
  const released: Array<[string, ReleaseReason]> = [];
  const table = new SessionTable<Owner>({
    now: () => clock.now,
    bucketMs,
    onRelease: (o, reason) => released.push([o.name, reason]),
  });
  return { clock, released, table };
}

describe('SessionTable', () => {
  it('bind says whether the id was not already live on that owner', () => {
    const { table, clock } = setup();
    const [a, b] = [owner('a'), owner('b')];
    expect(table.bind('s', a, 5000)).toBe(true); // new
    expect(table.bind('s', a, 5000)).toBe(false); // refreshed
    expect(table.bind('s', b, 5000)).toBe(true); // moved
    clock.now += 6000;
    expect(table.bind('s', b, 5000)).toBe(true); // expired (not swept yet), bound again
    expect(table.bind('s', b, 0)).toBe(false); // an unbind
    expect(table.peek('s')).toBeUndefined();
  });

  it('binds, looks up, unbinds, and keeps counts', () => {
    const { table, released } = setup();
    const a = owner('a');
    table.bind('s1', a, 5000);
    table.bind('s2', a, 5000);
    expect(table.lookup('s1')).toBe(a);
    expect(table.peek('s2')).toBe(a);
    expect(table.lookup('nope')).toBeUndefined();
    expect(table.size).toBe(2);
    expect(a.lease.sessions).toBe(2);
    expect(table.idsOf(a).sort()).toEqual(['s1', 's2']);
    expect(table.unbind('s1')).toBe(true);
    expect(table.unbind('s1')).toBe(false);
    expect(table.lookup('s1')).toBeUndefined();
    expect(a.lease.sessions).toBe(1);
    expect(table.size).toBe(1);
    expect(released).toEqual([['a', 'unbind']]);
  });

  it('refreshing a binding to the same owner does not double count', () => {
    const { table } = setup();
    const a = owner('a');
    table.bind('s', a, 5000);
    table.bind('s', a, 5000);
    expect(a.lease.sessions).toBe(1);
    expect(table.size).toBe(1);
  });

  it('rebinding to another owner moves the count and releases the previous owner', () => {
    const { table, released } = setup();
    const a = owner('a');
    const b = owner('b');
    table.bind('s', a, 5000);
    table.bind('s', b, 5000);
    expect(table.lookup('s')).toBe(b);
    expect(a.lease.sessions).toBe(0);
    expect(b.lease.sessions).toBe(1);
    expect(released).toEqual([['a', 'unbind']]);
  });

  it('bind with ttl ≤ 0 unbinds', () => {
    const { table } = setup();
    const a = owner('a');
    table.bind('s', a, 5000);
    table.bind('s', a, 0);
    expect(table.peek('s')).toBeUndefined();
    expect(a.lease.sessions).toBe(0);
    table.bind('t', a, -1);
    expect(table.size).toBe(0);
    expect(a.lease.sessions).toBe(0);
  });

  it('unbindOwner drops every session of one owner, once', () => {
    const { table, released } = setup();
    const a = owner('a');
    const b = owner('b');
    table.bind('a1', a, 5000);
    table.bind('a2', a, 5000);
    table.bind('b1', b, 5000);
    expect(table.unbindOwner(a)).toBe(2);
    expect(a.lease.sessions).toBe(0);
    expect(b.lease.sessions).toBe(1);
    expect(table.lookup('a1')).toBeUndefined();
    expect(table.lookup('b1')).toBe(b);
    expect(released).toEqual([['a', 'owner-gone']]);
    expect(table.unbindOwner(a)).toBe(0);
    expect(released).toHaveLength(1);
    // stale bucket filings of dropped ids are harmless to a sweep
    expect(table.sweep()).toEqual({ expired: 0, done: true });
  });

  it('expires sessions on sweep once their idle time has passed', () => {
    const { table, clock, released } = setup();
    const a = owner('a');
    table.bind('s', a, 5000);
    clock.now += 4999;
    expect(table.sweep()).toEqual({ expired: 0, done: true });
    expect(a.lease.sessions).toBe(1);
    clock.now += 3000; // past expiry and past the bucket's end
    expect(table.sweep()).toEqual({ expired: 1, done: true });
    expect(a.lease.sessions).toBe(0);
    expect(table.size).toBe(0);
    expect(released).toEqual([['a', 'expire']]);
  });

  it('a lookup of an expired id (before any sweep) misses and releases it', () => {
    const { table, clock, released } = setup();
    const a = owner('a');
    table.bind('s', a, 5000);
    clock.now += 5000;
    expect(table.peek('s')).toBeUndefined();
    expect(a.lease.sessions).toBe(1); // peek does not release
    expect(table.lookup('s')).toBeUndefined();
    expect(a.lease.sessions).toBe(0);
    expect(released).toEqual([['a', 'expire']]);
    // the later sweep finds only a stale filing
    clock.now += 5000;
    expect(table.sweep()).toEqual({ expired: 0, done: true });
  });

  it('touching a session extends its life across sweeps', () => {
    const { table, clock } = setup();
    const a = owner('a');
    table.bind('s', a, 5000);
    for (let i = 0; i < 5; i++) {
      clock.now += 4000;
      expect(table.lookup('s')).toBe(a);
      expect(table.sweep().expired).toBe(0);
    }
    expect(a.lease.sessions).toBe(1);
    clock.now += 7000;
    expect(table.sweep()).toEqual({ expired: 1, done: true });
    expect(a.lease.sessions).toBe(0);
  });

  it('a shorter ttl on re-bind is honoured by the sweep', () => {
    const { table, clock } = setup();
    const a = owner('a');
    table.bind('s', a, 60_000);
    table.bind('s', a, 1000);
    clock.now += 3000;
    expect(table.sweep()).toEqual({ expired: 1, done: true });
    expect(a.lease.sessions).toBe(0);
  });

  it('a sweep over budget returns done: false and continues on the next call', () => {
    const { table, clock } = setup();
    const a = owner('a');
    for (let i = 0; i < 10; i++) table.bind(`s${i}`, a, 1000);
    clock.now += 5000;
    expect(table.sweep(4)).toEqual({ expired: 4, done: false });
    expect(a.lease.sessions).toBe(6);
    expect(table.sweep(4)).toEqual({ expired: 4, done: false });
    expect(table.sweep(4)).toEqual({ expired: 2, done: true });
    expect(a.lease.sessions).toBe(0);
    expect(table.size).toBe(0);
  });

  it('binding after a sweep files into live buckets only (no lost entries)', () => {
    const { table, clock } = setup();
    const a = owner('a');
    table.sweep();
    clock.now += 10_000;
    table.sweep();
    table.bind('late', a, 500);
    clock.now += 2500;
    expect(table.sweep()).toEqual({ expired: 1, done: true });
    expect(a.lease.sessions).toBe(0);
  });

  it('reports each reason to onRelease', () => {
    const { table, clock, released } = setup();
    const a = owner('a');
    const b = owner('b');
    table.bind('x', a, 1000);
    table.bind('y', a, 1000);
    table.bind('z', b, 1000);
    table.unbind('x');
    table.bind('z', a, 1000); // moved away from b
    clock.now += 3000;
    table.sweep();
    table.bind('w', b, 1000);
    table.unbindOwner(b);
    expect(released).toEqual([
      ['a', 'unbind'],
      ['b', 'unbind'],
      ['a', 'expire'],
      ['a', 'expire'],
      ['b', 'owner-gone'],
    ]);
    expect(a.lease.sessions).toBe(0);
    expect(b.lease.sessions).toBe(0);
  });

  it('handles many sessions across many buckets', () => {
    const { table, clock } = setup(100);
    const a = owner('a');
    for (let i = 0; i < 1000; i++) table.bind(`s${i}`, a, 100 + i * 10);
    let expired = 0;
    for (let t = 0; t < 120; t++) {
      clock.now += 100;
      expired += table.sweep().expired;
      expect(a.lease.sessions).toBe(1000 - expired);
    }
    expect(expired).toBe(1000);
    expect(table.size).toBe(0);
  });

  it('stops a sweep when its time slice is used up, and finishes on the next call', () => {
    const { table, clock } = setup(100);
    const a = owner('a');
    for (let i = 0; i < 5000; i++) table.bind(`s${i}`, a, 100);
    clock.now += 1000;
    const first = table.sweep(Number.POSITIVE_INFINITY, 0);
    expect(first.done).toBe(false);
    expect(first.expired).toBeLessThanOrEqual(64);
    const rest = table.sweep();
    expect(rest.done).toBe(true);
    expect(first.expired + rest.expired).toBe(5000);
    expect(a.lease.sessions).toBe(0);
  });

  it('keeps sessions apart whatever their ids look like (shards)', () => {
    const { table } = setup(100);
    const a = owner('a');
    const b = owner('b');
    const ids = ['', 'x', 'A', '\u00ff', 'same-suffix-1', 'other-suffix-1', 'ünïcødé', '€uro', '\ud83d\ude00'];
    ids.forEach((id, i) => table.bind(id, i % 2 ? a : b, 1000));
    ids.forEach((id, i) => expect(table.lookup(id)).toBe(i % 2 ? a : b));
    expect(table.size).toBe(ids.length);
    expect(a.lease.sessions + b.lease.sessions).toBe(ids.length);
  });
});

describe('the session table names the session it releases', () => {
  it('passes the id on unbind and expiry, not on unbindOwner', () => {
    let now = 0;
    const released: Array<[string, string | undefined]> = [];
    const table = new SessionTable<SessionOwner>({ now: () => now, onRelease: (_o, reason, id) => released.push([reason, id]) });
    const owner = { lease: sessionCount() };
    table.bind('a', owner, 1000);
    table.bind('b', owner, 5000);
    table.bind('c', owner, 5000);
    table.unbind('a');
    now = 10_000;
    table.bind('d', owner, 50_000);
    expect(table.lookup('b')).toBeUndefined();
    table.sweep();
    table.unbindOwner(owner);
    expect(released).toEqual([
      ['unbind', 'a'],
      ['expire', 'b'],
      ['expire', 'c'],
      ['owner-gone', undefined],
    ]);
  });
});
