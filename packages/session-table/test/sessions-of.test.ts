import { describe, expect, it } from 'vitest';
import { SessionTable, type SessionOwner } from '../src/index';
import { sessionCount } from './owners';

const owner = (): SessionOwner => ({ lease: sessionCount() });

describe('SessionTable.sessionsOf', () => {
  it("lists an owner's live sessions that expire last, latest first, with the count of all, last use and holds", () => {
    const clock = { now: 1_000_000 };
    const table = new SessionTable<SessionOwner>({ now: () => clock.now });
    const a = owner();
    const b = owner();
    for (let i = 0; i < 50; i++) {
      clock.now = 1_000_000 + i * 1000;
      table.bind(`a${i}`, a, 600_000);
      table.bind(`b${i}`, b, 6_000_000);
    }
    // a7 used again later: it now expires last.
    clock.now = 1_100_000;
    table.lookup('a7');
    const pin = table.pin('a7', a)!;
    const { count, latest } = table.sessionsOf(a, 3);
    expect(count).toBe(50);
    expect(latest).toEqual([
      { id: 'a7', lastUsedAt: 1_100_000, expiresAt: 1_700_000, open: 1 },
      { id: 'a49', lastUsedAt: 1_049_000, expiresAt: 1_649_000, open: 0 },
      { id: 'a48', lastUsedAt: 1_048_000, expiresAt: 1_648_000, open: 0 },
    ]);
    table.unpin(pin);
    // Expired ones are not live: at 1 648 500 only a7 and a49 are.
    clock.now = 1_648_500;
    expect(table.sessionsOf(a, 100).count).toBe(2);
    expect(table.sessionsOf(b).latest.map((s) => s.id)).toEqual(Array.from({ length: 50 }, (_, i) => `b${49 - i}`));
    expect(table.sessionsOf(owner(), 5)).toEqual({ count: 0, latest: [] });
  });
});
