/**
 * Phantom sessions after a `kill -9`: the store is written every 200 ms, so sessions the app
 * ended in the last moments before the kill are still in it, and a new supervisor restores
 * them. On a detached worker they would keep it running for the whole idle timeout. Restored
 * bindings are therefore unconfirmed until a request carries them or the app reports them; after
 * `drain.unconfirmedSeconds` the rest are dropped (event `sessions.reconciled`). Real supervisor
 * processes, the demo app as the workers.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { HandoverEvent } from '@handover/process-table';
import type { Client } from './harness';
import { Installation, count, login, report, running, sessionId } from './installation';
import { waitFor } from './wait';
import { type StoredSession, readStoredSessions } from '../src/stored-state';

const WINDOW_SECONDS = 3;

/**
 * alice, bob and carol on web@0, detached (web@1 takes new sessions); then alice and bob log off
 * and the supervisor is killed before the store hears of it: their rows are put back as the
 * unflushed store would have kept them. Returns once a new supervisor runs.
 */
async function endTwoSessionsThenKill(install: Installation): Promise<{ carol: Client; web0Pid: number; restartedAt: number }> {
  const first = await install.start();
  const [alice, bob, carol] = [await login(install), await login(install), await login(install)];
  for (const user of [alice, bob, carol]) expect(await count(user)).toEqual({ worker: 'web@0', counter: 1 });
  await install.mutate('workers.detachAndSync', { worker: 'web@0' });
  const web0 = await install.worker('web@0');
  expect(web0).toMatchObject({ state: 'detached', sessions: 3 });
  await install.waitForStoredSessions(Object.fromEntries([alice, bob, carol].map((c) => [sessionId(c), 'web@0'])));
  await waitFor(() => install.storedWorkers().find((w) => w.id === 'web@0')?.state === 'detached', 10_000, 'web@0 stored detached');
  const before = readSessions(install);

  for (const user of [alice, bob]) expect((await user.post('/api/logout')).status).toBe(200);
  expect((await install.worker('web@0')).sessions).toBe(1);
  await install.kill9(first.run);
  // Whether or not the flush got there first, the store now holds what an unflushed one would.
  const db = new Database(install.dbFile);
  // Appended to the session log, whose latest entry for an id is what the store holds.
  const insert = db.prepare('INSERT INTO session_log (id, worker, ttl_ms, expires_at) VALUES (?, ?, ?, ?)');
  for (const row of before) insert.run(row.id, row.worker, row.ttlMs, row.expiresAt);
  db.close();
  expect(readSessions(install).map((r) => r.worker)).toEqual(['web@0', 'web@0', 'web@0']);

  await install.start();
  const restartedAt = Date.now();
  expect(await install.worker('web@0')).toMatchObject({ state: 'detached', sessions: 3, pid: web0.pid });
  return { carol, web0Pid: web0.pid!, restartedAt };
}

function readSessions(install: Installation): StoredSession[] {
  return readStoredSessions(install.dbFile);
}

const reconciled = (e: HandoverEvent) => e.type === 'sessions.reconciled' && e.worker === 'web@0';

describe('bindings restored after a kill -9 are reconciled', () => {

  it('a detached worker whose restored sessions were all ended stops by itself after the window, and the event names the count', async () => {
    await using install = await Installation.create({ drain: { maxSeconds: 600, unconfirmedSeconds: WINDOW_SECONDS } });
    const { carol, web0Pid, restartedAt } = await endTwoSessionsThenKill(install);
    // The last real user logs off after the restart: what is left are the two phantoms.
    expect((await carol.post('/api/logout')).status).toBe(200);
    expect((await install.worker('web@0')).sessions).toBe(2);

    // Before the fix web@0 waited for its idle timeout (30 min): it never stopped here.
    await install.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0', 0, WINDOW_SECONDS * 1000 + 30_000);
    await waitFor(() => !running(web0Pid), 10_000, 'web@0 to exit');
    const stoppedAfterMs = Date.now() - restartedAt;
    const event = (await install.events()).find(reconciled)!;
    expect(event.data).toMatchObject({ restored: 3, confirmed: 1, dropped: 2, windowSeconds: WINDOW_SECONDS });
    expect(event.message).toMatch(/2 restored sessions of web@0 were dropped/);
    // Not before the window: a real user had that long to come back.
    expect(Date.parse(event.at) - restartedAt).toBeGreaterThanOrEqual(WINDOW_SECONDS * 1000 - 1_000);
    // Dropped, not lost: the app had ended them.
    expect((await install.pool()).sessionsLost).toBe(0);
    const { restored, confirmed, dropped, windowSeconds } = event.data as Record<string, number>;
    report('phantom sessions, all ended', { restored, confirmed, dropped, windowSeconds, stoppedAfterMs });
  });

  it('a session used after the restart is confirmed and kept; only the phantoms are dropped', async () => {
    await using install = await Installation.create({ drain: { maxSeconds: 600, unconfirmedSeconds: WINDOW_SECONDS } });
    const { carol } = await endTwoSessionsThenKill(install);
    expect(await count(carol)).toEqual({ worker: 'web@0', counter: 2 });

    const event = await install.waitForEvent(reconciled, 0, 30_000);
    expect(event.data).toMatchObject({ restored: 3, confirmed: 1, dropped: 2 });
    expect(await install.worker('web@0')).toMatchObject({ state: 'detached', sessions: 1 });
    // carol's session goes on, on the same worker, and her logoff ends the drain.
    expect(await count(carol)).toEqual({ worker: 'web@0', counter: 3 });
    expect((await carol.post('/api/logout')).status).toBe(200);
    await install.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0', event.id, 30_000);
    expect((await install.pool()).sessionsLost).toBe(0);
  });
});
