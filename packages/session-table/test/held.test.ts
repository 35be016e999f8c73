import { describe, expect, it } from 'vitest';
import { SessionTable, type SessionOwner } from '../src/index';
import { sessionCount } from './owners';

/**
 * A session with something open on it (a WebSocket, a long request: a pin) is in use, so it does
 * not expire however long that lasts; its idle clock starts again when the last pin goes.
 */
describe('a held (pinned) session does not expire', () => {
  function setup(maxSessions?: number) {
    const clock = { now: 100_000 };
    const table = new SessionTable<SessionOwner>({ now: () => clock.now, bucketMs: 100, maxSessions });
    const owner: SessionOwner = { lease: sessionCount() };
    return { clock, table, owner };
  }

  it('survives sweeps and lookups past its idle timeout while pinned, and idles from the unpin', () => {
    const { clock, table, owner } = setup();
    table.bind('ws', owner, 1000);
    const pin = table.pin('ws', owner)!;
    clock.now += 5000; // five idle timeouts with the socket open
    expect(table.sweep().expired).toBe(0);
    expect(table.peek('ws')).toBe(owner);
    expect(table.lookup('ws')).toBe(owner);
    clock.now += 5000;
    table.sweep();
    table.unpin(pin, true); // the socket closed: idle from now
    clock.now += 900;
    table.sweep();
    expect(table.peek('ws')).toBe(owner);
    clock.now += 300;
    expect(table.sweep().expired).toBe(1);
    expect(table.peek('ws')).toBeUndefined();
    expect(owner.lease.sessions).toBe(0);
  });

  it('is not taken for an expired one when a full table makes room', () => {
    const { clock, table, owner } = setup(1);
    table.bind('ws', owner, 1000);
    table.pin('ws', owner);
    clock.now += 5000;
    table.bind('new', owner, 1000); // no room: the held one must stay, the new one is refused
    expect(table.peek('ws')).toBe(owner);
    expect(table.peek('new')).toBeUndefined();
  });

  it('an unpin without refresh (a request that ended) leaves the idle clock where the lookup set it', () => {
    const { clock, table, owner } = setup();
    table.bind('s', owner, 1000);
    const pin = table.pin('s', owner)!;
    clock.now += 400;
    table.unpin(pin);
    clock.now += 700; // 1100 ms after the bind
    table.sweep();
    expect(table.peek('s')).toBeUndefined();
  });
});
