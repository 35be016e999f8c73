import { describe, expect, it } from 'vitest';
import { SessionTable, type SessionOwner } from '../src/index';
import { sessionCount } from './owners';

interface Owner extends SessionOwner {
  name: string;
}
const owner = (name: string): Owner => ({ name, lease: sessionCount() });

function setup(maxSessions?: number) {
  const clock = { now: 10_000 };
  const table = new SessionTable<Owner>({ now: () => clock.now, bucketMs: 1000, maxSessions });
  const seen: string[] = [];
  const unsubscribe = table.subscribe({
    bound: (id, o, ttl) => seen.push(`bound ${id} ${o.name} ${ttl}`),
    released: (id, o, reason, usedAt) => seen.push(`released ${id} ${o.name} ${reason} ${usedAt}`),
  });
  return { clock, table, seen, unsubscribe };
}

describe('SessionTable listeners', () => {
  it('hears every binding stored (new, renewed, moved) and every one that goes away, with when it was last used', () => {
    const { clock, table, seen } = setup();
    const [a, b] = [owner('a'), owner('b')];
    table.bind('s1', a, 5000);
    table.bind('s1', a, 6000);
    table.bind('s1', b, 6000);
    clock.now += 100;
    expect(table.lookup('s1')).toBe(b); // lookups are not reported
    table.bind('s2', a, 1000);
    clock.now += 3000; // past s2's expiry and its (one bucket late) sweep
    table.sweep();
    table.unbind('s1');
    expect(seen).toEqual([
      'bound s1 a 5000',
      'bound s1 a 6000',
      'bound s1 b 6000',
      'bound s2 a 1000',
      'released s2 a expire 10100',
      'released s1 b unbind 10100',
    ]);
  });

  it('reports an eviction, not a refused session, and nothing after unsubscribe', () => {
    const { table, seen, unsubscribe } = setup(1);
    const a = owner('a');
    table.bind('s1', a, 5000);
    table.bind('s2', a, 5000); // evicts s1 (least recently used, unpinned)
    expect(seen).toEqual(['bound s1 a 5000', 'released s1 a evict 10000', 'bound s2 a 5000']);
    const pin = table.pin('s2', a)!;
    table.bind('s3', a, 5000); // s2 is pinned: s3 is refused, not stored
    expect(table.peek('s3')).toBeUndefined();
    expect(seen).toHaveLength(3);
    table.unpin(pin);
    unsubscribe();
    table.unbind('s2');
    expect(seen).toHaveLength(3);
  });

  it('says when a binding was last used, for its owner only', () => {
    const { clock, table } = setup();
    const [a, b] = [owner('a'), owner('b')];
    table.bind('s', a, 5000);
    clock.now += 1234;
    table.lookup('s');
    expect(table.lastUsedAt('s', a)).toBe(11_234);
    expect(table.lastUsedAt('s', b)).toBeUndefined();
    clock.now += 5000;
    expect(table.lastUsedAt('s', a)).toBeUndefined();
  });
});
