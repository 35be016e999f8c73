import { Lease } from '@handover/process-table';
import { SessionTable, type SessionOwner } from '@handover/session-table';
import { describe, expect, it } from 'vitest';
import { RestoredSessions } from '../src/restored-sessions';

describe('RestoredSessions (bindings restored after a restart, held unconfirmed)', () => {
  function setup() {
    const clock = { now: 1_000_000 };
    const table = new SessionTable<SessionOwner>({ now: () => clock.now });
    const restored = new RestoredSessions(table, () => clock.now);
    const worker: SessionOwner = { lease: new Lease(), draining: true };
    for (const id of ['used', 'reported', 'ended', 'usedThenEnded', 'phantom1', 'phantom2']) restored.restore(id, worker, 60_000);
    return { clock, table, restored, worker };
  }

  it('confirms what a request used or the app reported, counts what ended by itself, drops the rest', () => {
    const { clock, table, restored, worker } = setup();
    clock.now += 10;
    table.lookup('used'); // a request carried it
    table.lookup('usedThenEnded');
    table.bind('reported', worker, 60_000); // the app reported it
    table.unbind('ended'); // the app cleared it before anyone used it
    table.unbind('usedThenEnded');
    expect(restored.settle(worker, true)).toEqual({ restored: 6, confirmed: 3, ended: 1, dropped: 2 });
    expect(table.idsOf(worker).sort()).toEqual(['reported', 'used']);
    expect(worker.lease.sessions).toBe(2);
    expect(restored.settle(worker, true)).toBeNull(); // settled once
  });

  it('keeps the unconfirmed ones as ordinary bindings when told not to drop', () => {
    const { table, restored, worker } = setup();
    expect(restored.settle(worker, false)).toEqual({ restored: 6, confirmed: 0, ended: 0, dropped: 0 });
    expect(table.size).toBe(6);
  });

  it('does not count a binding a full table refused', () => {
    const table = new SessionTable<SessionOwner>({ maxSessions: 1 });
    const restored = new RestoredSessions(table);
    const worker: SessionOwner = { lease: new Lease(), draining: true }; // a draining owner's sessions are never evicted
    restored.restore('a', worker, 60_000);
    restored.restore('b', worker, 60_000);
    expect(restored.settle(worker, true)).toEqual({ restored: 1, confirmed: 0, ended: 0, dropped: 1 });
  });
});
