/**
 * "Log off and you move", with a real Express 5 app and stock express-session (MemoryStore,
 * saveUninitialized: false) as the workers, through `handover`'s proxy. Handover's count is
 * checked against the app's own (its store) at every step, three ways:
 *
 *  (a) without the integration, the logout express-session's README recommends (destroy and
 *      clear the cookie): cookie accounting sees every step;
 *  (b) with @handover/express (`app.use(handoverSessions())`), the common logout that leaves the
 *      cookie: the report (named by the cookie as the browser sends it, `s%3A<id>.<sig>`) moves her;
 *  (c) without the integration, that same logout: what cookie accounting cannot know;
 *  (d) without the integration, a stale cookie: guessed a session unless sessionReports: true;
 *  (e) with the integration, a logout after a streamed head: by the side channel, or else on the
 *      worker's next response.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client, FIXTURES, TestSupervisor, waitFor } from './harness';

const APP = join(FIXTURES, 'express/app.mjs');
const COOKIE = 'connect.sid';

function expressPool(revision: string, integration: boolean, sideChannel = true) {
  // The supervisor gives every worker HANDOVER_REPORT_URL/TOKEN; unset, late reports wait for a response.
  const unset = sideChannel ? '' : 'unset HANDOVER_REPORT_URL HANDOVER_REPORT_TOKEN; ';
  return {
    command: `${unset}${integration ? 'USE_HANDOVER=1 ' : ''}exec node ${JSON.stringify(APP)}`,
    sessionCookie: COOKIE,
    // With the integration, as docs/recipes/express.md says: express-session never adopts an id it
    // does not know, and every session is reported, so nothing is to be guessed from requests.
    ...(integration ? { sessionReports: true } : {}),
    revision,
    healthCheck: { path: '/healthz', timeoutSeconds: 30, intervalMs: 50 },
  };
}

/** The app's own count: its MemoryStore's length, asked on the worker's port. */
async function appCount(harness: TestSupervisor, worker: string): Promise<number> {
  const answer = await fetch(`http://127.0.0.1:${harness.worker(worker).port}/sessions`);
  return ((await answer.json()) as { sessions: number }).sessions;
}

/** Handover's count and the app's, per worker: [handover, app] for each. */
async function counts(harness: TestSupervisor, ...workers: string[]): Promise<Array<[number, number]>> {
  const result: Array<[number, number]> = [];
  for (const worker of workers) result.push([harness.worker(worker).sessions, await appCount(harness, worker)]);
  return result;
}

type Logout = '/logout' | '/logout-clear';

/**
 * The story up to the logout, the same in all three runs: Alice counts (an anonymous session on
 * web@0), logs in (a new id), the operator detaches web@0 and syncs v2, Bob starts on web@1, Alice
 * keeps her state on web@0. Returns Alice's client.
 */
async function upToLogout(harness: TestSupervisor, integration: boolean, sideChannel = true): Promise<Client> {
  const alice = new Client(harness.proxyUrl);
  expect((await alice.post('/count')).json).toMatchObject({ worker: 'web@0', counter: 1, user: null });
  const anonymous = alice.cookies.get(COOKIE);
  expect(anonymous).toMatch(/^s%3A/);
  expect(await counts(harness, 'web@0')).toEqual([[1, 1]]);

  expect((await alice.post('/login', JSON.stringify({ user: 'alice' }))).json).toMatchObject({ worker: 'web@0', user: 'alice', counter: 1 });
  expect(alice.cookies.get(COOKIE)).toMatch(/^s%3A/);
  expect(alice.cookies.get(COOKIE)).not.toBe(anonymous); // regenerate(): a new id
  expect(await counts(harness, 'web@0')).toEqual([[1, 1]]);

  await harness.writeConfig(expressPool('v2', integration, sideChannel));
  await harness.supervisor.detachAndSync('web@0', 'operator');
  expect(harness.worker('web@0').state).toBe('detached');
  expect(await counts(harness, 'web@0', 'web@1')).toEqual([
    [1, 1],
    [0, 0],
  ]);

  const bob = new Client(harness.proxyUrl);
  expect((await bob.post('/count')).json).toMatchObject({ worker: 'web@1', revision: 'v2', counter: 1 });
  expect((await bob.post('/login', JSON.stringify({ user: 'bob' }))).json).toMatchObject({ worker: 'web@1', user: 'bob' });
  expect(await counts(harness, 'web@0', 'web@1')).toEqual([
    [1, 1],
    [1, 1],
  ]);

  // Alice's session stays where its state is.
  expect((await alice.post('/count')).json).toMatchObject({ worker: 'web@0', revision: 'v1', user: 'alice', counter: 2 });
  expect((await alice.get('/state')).json).toMatchObject({ worker: 'web@0', revision: 'v1', user: 'alice', counter: 2 });
  expect(await counts(harness, 'web@0', 'web@1')).toEqual([
    [1, 1],
    [1, 1],
  ]);
  return alice;
}

/** After a logout Handover saw: web@0 stops by itself, Alice's next request lands on web@1. */
async function movesToNewRevision(harness: TestSupervisor, alice: Client): Promise<void> {
  await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0', 30_000);
  // A look around creates no session (saveUninitialized: false), here or in Handover.
  expect((await alice.get('/state')).json).toMatchObject({ worker: 'web@1', revision: 'v2', user: null, counter: null });
  expect(await counts(harness, 'web@1')).toEqual([[1, 1]]);
  // She logs in again, on the new revision.
  expect((await alice.post('/login', JSON.stringify({ user: 'alice' }))).json).toMatchObject({ worker: 'web@1', revision: 'v2', user: 'alice' });
  expect(await counts(harness, 'web@1')).toEqual([[2, 2]]);
}

describe('Express with stock express-session', () => {
  it('(a) without the integration, destroy + clearCookie (the README way): cookie accounting gets every step right', async () => {
    await using harness = await TestSupervisor.launch(expressPool('v1', false));
    const alice = await upToLogout(harness, false);

    const logout = await alice.post('/logout-clear' satisfies Logout);
    expect(logout.json).toMatchObject({ worker: 'web@0', loggedOut: true, sessions: 0 });
    expect(alice.cookies.has(COOKIE)).toBe(false);
    expect(harness.worker('web@0').sessions).toBe(0);

    await movesToNewRevision(harness, alice);
  });

  it('(b) with @handover/express, the common logout that leaves the cookie: reported, so she moves and web@0 stops', async () => {
    await using harness = await TestSupervisor.launch(expressPool('v1', true));
    const alice = await upToLogout(harness, true);

    const cookie = alice.cookies.get(COOKIE);
    const logout = await alice.post('/logout' satisfies Logout);
    expect(logout.json).toMatchObject({ worker: 'web@0', loggedOut: true, sessions: 0 });
    expect(alice.cookies.get(COOKIE)).toBe(cookie); // still in the browser
    expect(harness.worker('web@0').sessions).toBe(0);
    // The proxy strips the report: the browser never sees it.
    expect(logout.headers.get('x-handover-session')).toBeNull();

    await movesToNewRevision(harness, alice);
  });

  it('(c) without the integration, the logout that leaves the cookie: Handover cannot know, she stays on web@0 and it does not drain', async () => {
    await using harness = await TestSupervisor.launch(expressPool('v1', false));
    const alice = await upToLogout(harness, false);

    const cookie = alice.cookies.get(COOKIE);
    const logout = await alice.post('/logout' satisfies Logout);
    expect(logout.json).toMatchObject({ worker: 'web@0', loggedOut: true, sessions: 0 });
    expect(alice.cookies.get(COOKIE)).toBe(cookie);
    // The app has no session left; Handover still counts hers (until the idle timeout, 30 min).
    expect(await counts(harness, 'web@0')).toEqual([[1, 0]]);

    // Her next request goes to the old revision, logged out, and makes no session there.
    expect((await alice.get('/state')).json).toMatchObject({ worker: 'web@0', revision: 'v1', user: null });
    expect(await counts(harness, 'web@0', 'web@1')).toEqual([
      [1, 0],
      [1, 1],
    ]);
    expect(harness.worker('web@0').state).toBe('detached');
    expect(harness.events.some((e) => e.type === 'worker.stopped' && e.worker === 'web@0')).toBe(false);
  });

  it('(d) without the integration, a stale cookie express-session ignores (an old visit, a restarted worker) is guessed a session by default; sessionReports: true stops the guess', async () => {
    for (const sessionReports of [false, true]) {
      await using harness = await TestSupervisor.launch({ ...expressPool('v1', false), sessionReports });
      const dave = new Client(harness.proxyUrl);
      // Signed with the app's secret, for an id its store does not hold (any more).
      dave.cookies.set(COOKIE, 's%3Agone0from0the0store.SiGnAtUrE');
      expect((await dave.get('/state')).json).toMatchObject({ worker: 'web@0', user: null });
      // express-session started a fresh (unsaved) session and said nothing: the app holds none.
      expect(await counts(harness, 'web@0')).toEqual([[sessionReports ? 0 : 1, 0]]);
      // Set-Cookie accounting is the same either way: his first real session replaces the guess.
      expect((await dave.post('/count')).json).toMatchObject({ worker: 'web@0', counter: 1 });
      expect(dave.cookies.get(COOKIE)).not.toBe('s%3Agone0from0the0store.SiGnAtUrE');
      expect(await counts(harness, 'web@0')).toEqual([[1, 1]]);
    }
  });

  it('(e) with @handover/express, a logout after a streamed head goes by the side channel: she moves, web@0 stops by itself', async () => {
    await using harness = await TestSupervisor.launch(expressPool('v1', true));
    const alice = await upToLogout(harness, true);

    const logout = await alice.post('/logout-streamed');
    expect(logout.text).toBe('logging out…\nlogged out; sessions 0\n');
    await waitFor(() => harness.worker('web@0').sessions === 0, 10_000, 'the late report applied');
    await movesToNewRevision(harness, alice);
  });

  it('(e′) the same without a side channel: the report rides on web@0’s next response, so her next request still lands there once', async () => {
    await using harness = await TestSupervisor.launch(expressPool('v1', true, false));
    const alice = await upToLogout(harness, true, false);

    const logout = await alice.post('/logout-streamed');
    expect(logout.text).toBe('logging out…\nlogged out; sessions 0\n');
    expect(await counts(harness, 'web@0')).toEqual([[1, 0]]);
    // That request carries the report back: counted 0, web@0 stops, and she moves.
    expect((await alice.get('/state')).json).toMatchObject({ worker: 'web@0', revision: 'v1', user: null });
    expect(harness.worker('web@0').sessions).toBe(0);
    await movesToNewRevision(harness, alice);
  });
});
