/**
 * The session probe (pools[].sessionProbe): the app's own session count beside Handover's, and a
 * detached worker whose app says 0 with nothing in flight drains even when cookie accounting
 * still counts a session (a logout that left the cookie). Real supervisor, real proxy, the
 * probe-app fixture as the workers; its /stats is steered through its own port.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkerInfo } from '@handover/process-table';
import { askApp, readAppSessions } from '../src/session-probe';
import { Client, FIXTURES, type PoolFile, TestSupervisor, waitFor } from './harness';

const probePool = (extra: Record<string, unknown> = {}): PoolFile => ({
  command: `node ${JSON.stringify(join(FIXTURES, 'probe-app.mjs'))}`,
  sessionCookie: 'JSESSIONID',
  revision: 'v1',
  sessionProbe: { path: '/stats', intervalSeconds: 0.1, timeoutSeconds: 1 },
  drain: { maxSeconds: 600 },
  ...extra,
});

/** Sets how a worker's /stats answers, on its own port (not through the proxy). */
async function setMode(harness: TestSupervisor, id: string, mode: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${harness.worker(id).port}/probe-mode?mode=${mode}`);
  expect(res.status).toBe(200);
}

/** The row once a probe has answered after `since` (ms) and `match` holds. */
function probedAfter(harness: TestSupervisor, id: string, since: number, match: (w: WorkerInfo) => boolean, what: string): Promise<WorkerInfo> {
  return waitFor(
    () => {
      const w = harness.worker(id);
      return w.appSessionsAt !== null && Date.parse(w.appSessionsAt) > since && match(w) ? w : undefined;
    },
    20_000,
    what,
  );
}

/** Two more answers after `since`: the probe kept asking, and (for the caller) decided nothing. */
async function twoMoreProbes(harness: TestSupervisor, id: string, since: number): Promise<WorkerInfo> {
  const first = await probedAfter(harness, id, since, () => true, `a probe of ${id}`);
  return probedAfter(harness, id, Date.parse(first.appSessionsAt!), () => true, `another probe of ${id}`);
}

/** alice on web@0, then web@0 detached (web@1 takes new sessions). */
async function aliceOnDetachedWorker(harness: TestSupervisor): Promise<Client> {
  const alice = new Client(harness.proxyUrl);
  expect((await alice.get('/')).json).toMatchObject({ worker: 'web@0' });
  await harness.supervisor.detachAndSync('web@0', 'test');
  expect(harness.worker('web@0')).toMatchObject({ state: 'detached', sessions: 1 });
  return alice;
}

const drainedByApp = (e: { type: string; worker: string | null; data: Record<string, unknown> | null }) =>
  e.type === 'worker.drained' && e.worker === 'web@0' && e.data?.by === 'session-probe';

describe('the session probe', () => {
  it('shows the app’s own count beside Handover’s, on every running worker', async () => {
    await using harness = await TestSupervisor.launch(probePool());
    expect(harness.supervisor.listPools()[0]).toMatchObject({ sessionProbe: '/stats' });
    const before = Date.now();
    const [alice, bob] = [new Client(harness.proxyUrl), new Client(harness.proxyUrl)];
    await alice.get('/');
    await bob.get('/');
    const row = await probedAfter(harness, 'web@0', before, (w) => w.appSessions === 2, 'web@0 to show the app’s 2 sessions');
    expect(row).toMatchObject({ sessions: 2, appSessions: 2, appSessionsError: null });

    // A pattern reads a text answer.
    await setMode(harness, 'web@0', 'text');
    expect(await askApp(harness.worker('web@0').port, { path: '/stats', pattern: '^active sessions: (\\d+)$', intervalSeconds: 1, timeoutSeconds: 1, headers: {} })).toEqual({ count: 2 });
  });

  it('a probe added by a sync starts on the running workers; removed by one, the count is no longer known', async () => {
    await using harness = await TestSupervisor.launch(probePool({ sessionProbe: null }));
    await new Client(harness.proxyUrl).get('/');
    expect(harness.supervisor.listPools()[0]).toMatchObject({ sessionProbe: null });
    expect(harness.worker('web@0')).toMatchObject({ sessions: 1, appSessions: null, appSessionsAt: null });

    await harness.writeConfig(probePool());
    const since = Date.now();
    await harness.supervisor.sync('web', 'test');
    expect(harness.supervisor.listPools()[0]).toMatchObject({ sessionProbe: '/stats' });
    await probedAfter(harness, 'web@0', since, (w) => w.appSessions === 1, 'web@0 probed after the sync');

    await harness.writeConfig(probePool({ sessionProbe: null }));
    await harness.supervisor.sync('web', 'test');
    await waitFor(() => harness.worker('web@0').appSessionsAt === null, 10_000, 'the count to be forgotten');
    expect(harness.worker('web@0')).toMatchObject({ state: 'started', sessions: 1, appSessions: null, appSessionsError: null });
  });

  it('a detached worker whose app says 0 stops by itself, though cookie accounting still counts a session, once nothing is in flight', async () => {
    await using harness = await TestSupervisor.launch(probePool());
    const alice = await aliceOnDetachedWorker(harness);
    await probedAfter(harness, 'web@0', 0, (w) => w.appSessions === 1, 'web@0 to show alice’s session');

    // A slow request of alice's is under way while she logs out in another tab: the app's
    // count drops to 0, but a request in flight keeps the worker.
    const slow = alice.get('/slow?ms=4000');
    await waitFor(() => harness.worker('web@0').inFlight === 1, 10_000, 'the slow request in flight');
    const loggedOutAt = Date.now();
    expect((await alice.get('/logout-keep-cookie')).json).toMatchObject({ worker: 'web@0', loggedOut: expect.any(String) });
    expect(alice.cookies.has('JSESSIONID')).toBe(true);
    const during = await probedAfter(harness, 'web@0', loggedOutAt, (w) => w.appSessions === 0, 'the app to report 0 sessions');
    expect(during).toMatchObject({ state: 'detached', sessions: 1, inFlight: 1 });
    expect(harness.events.some(drainedByApp)).toBe(false);

    // Before the probe, web@0 waited here for the idle timeout (30 min): it never stopped.
    expect((await slow).status).toBe(200);
    const drained = await harness.waitForEvent(drainedByApp);
    expect(drained.message).toMatch(
      /^web@0 drained: the app reports 0 sessions, Handover still counted 1 \(cookie accounting cannot see every logout\); no request or WebSocket is open, so it is stopped/,
    );
    expect(drained.data).toMatchObject({ countedSessions: 1, appSessions: 0, path: '/stats' });
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');
    // Not lost: the app had ended it. Not two drain events either.
    expect(harness.supervisor.listPools()[0]!.sessionsLost).toBe(0);
    expect(harness.events.filter((e) => e.type === 'worker.drained' && e.worker === 'web@0')).toHaveLength(1);
    expect(harness.worker('web@1')).toMatchObject({ state: 'started' });
  });

  it('a probe that fails (500, no answer in time, no number) shows null with why, and drains nothing', async () => {
    await using harness = await TestSupervisor.launch(probePool({ sessionProbe: { path: '/stats', intervalSeconds: 0.1, timeoutSeconds: 0.5 } }));
    const alice = await aliceOnDetachedWorker(harness);
    await setMode(harness, 'web@0', '500');
    let since = Date.now();
    await probedAfter(harness, 'web@0', since, (w) => w.appSessionsError !== null, 'the 500 to show');
    expect((await alice.get('/logout-keep-cookie')).json).toMatchObject({ worker: 'web@0' });

    for (const [mode, error] of [
      ['500', /^GET \/stats on port \d+ answered 500 Internal Server Error$/],
      ['hang', /^GET \/stats on port \d+: no complete answer within 0\.5s$/],
      ['garbage', /^GET \/stats on port \d+: no whole number in the answer "no numbers here" \(set sessionProbe\.pattern to say where it is\)$/],
    ] as const) {
      await setMode(harness, 'web@0', mode);
      since = Date.now();
      const failed = await probedAfter(harness, 'web@0', since, (w) => w.appSessionsError !== null && error.test(w.appSessionsError), `the ${mode} probe to fail`);
      expect(failed).toMatchObject({ state: 'detached', sessions: 1, appSessions: null });
      const later = await twoMoreProbes(harness, 'web@0', Date.parse(failed.appSessionsAt!));
      expect(later).toMatchObject({ state: 'detached', sessions: 1, appSessions: null });
    }
    expect(harness.events.some((e) => e.type === 'worker.drained' && e.worker === 'web@0')).toBe(false);

    // What held it was the failing probe: one good answer drains it.
    await setMode(harness, 'web@0', 'json');
    await harness.waitForEvent(drainedByApp);
  });

  it('a started worker whose app says 0 is only shown: it keeps its sessions and its state', async () => {
    await using harness = await TestSupervisor.launch(probePool());
    const alice = new Client(harness.proxyUrl);
    await alice.get('/');
    await setMode(harness, 'web@0', 'fixed&count=0');
    const since = Date.now();
    const row = await probedAfter(harness, 'web@0', since, (w) => w.appSessions === 0, 'the app to say 0');
    const later = await twoMoreProbes(harness, 'web@0', Date.parse(row.appSessionsAt!));
    expect(later).toMatchObject({ state: 'started', sessions: 1, appSessions: 0 });
    expect(harness.events.some((e) => e.type === 'worker.drained' || e.type === 'worker.stopping')).toBe(false);
    expect((await alice.get('/')).json).toMatchObject({ worker: 'web@0', hits: 2 });
  });
});

describe('reading the count', () => {
  it('takes JSON’s "sessions", a bare number, or the first whole number; a pattern’s first group', () => {
    expect(readAppSessions('{"uptime": 12, "sessions": 3}', null)).toEqual({ count: 3 });
    expect(readAppSessions('7\n', null)).toEqual({ count: 7 });
    expect(readAppSessions('active sessions: 4', null)).toEqual({ count: 4 });
    expect(readAppSessions('{"uptime": 12}', null)).toEqual({ error: expect.stringMatching(/^a JSON answer needs a top-level "sessions" number/) });
    expect(readAppSessions('{"sessions": 1.5}', null)).toEqual({ error: '"sessions" is 1.5, not a whole number' });
    expect(readAppSessions('', null)).toEqual({ error: 'no whole number in an empty answer (set sessionProbe.pattern to say where it is)' });
    // Tomcat's manager text API: /manager/text/list
    const tomcat = 'OK - Listed applications for virtual host [localhost]\n/:running:0:ROOT\n/shop:running:12:shop\n/manager:running:1:manager\n';
    expect(readAppSessions(tomcat, '^/shop:running:(\\d+):')).toEqual({ count: 12 });
    expect(readAppSessions(tomcat, '^/cart:running:(\\d+):')).toEqual({ error: expect.stringMatching(/^no match for the pattern "\^\/cart:running:\(\\\\d\+\):" in the answer "OK - Listed/) });
    expect(readAppSessions('count: many', 'count: (\\w+)')).toEqual({ error: 'the pattern\'s first group is "many", not a whole number' });
  });
});
