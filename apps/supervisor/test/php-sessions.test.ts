/**
 * "Log off and you move", with real PHP (php-cli's built-in server, stock sessions, files
 * handler) as the workers, through `handover`'s proxy. Handover's count is checked against the
 * app's own (its session files) at every step. With integrations/php/handover.php (loaded by
 * auto_prepend_file, no change to the app) the accounting is exact; without it, what generic
 * cookie accounting gets right (an adopted stale id) and what it cannot know (a logout that
 * leaves the cookie).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test-support/resources';
import { Client, FIXTURES, REPO_ROOT, TestSupervisor, waitFor } from './harness';

const APP = join(FIXTURES, 'php');
const INTEGRATION = join(REPO_ROOT, 'integrations/php/handover.php');

/** A pool of `php -S` workers, each with its own session directory (its own state, as separate machines would have). */
function phpPool(revision: string, sessionsDir: string, integration: boolean) {
  const prepend = integration ? ` -d auto_prepend_file=${JSON.stringify(INTEGRATION)}` : '';
  return {
    command:
      `mkdir -p ${JSON.stringify(sessionsDir)}/$HANDOVER_WORKER && exec php -S 127.0.0.1:$PORT -t ${JSON.stringify(APP)}` +
      ` -d session.save_path=${JSON.stringify(sessionsDir)}/$HANDOVER_WORKER${prepend}`,
    sessionCookie: 'PHPSESSID',
    revision,
    healthCheck: { path: '/healthz.php', timeoutSeconds: 20, intervalMs: 50 },
  };
}

/** The app's own count: session files in that worker's directory. */
async function appCount(harness: TestSupervisor, worker: string): Promise<number> {
  const answer = await fetch(`http://127.0.0.1:${harness.worker(worker).port}/sessions.php`);
  return ((await answer.json()) as { sessions: number }).sessions;
}

const phpInstalled = (() => {
  try {
    execFileSync('php', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('PHP with stock sessions', () => {
  it('php-cli is installed (.ci/run installs it)', () => {
    expect(phpInstalled).toBe(true);
  });

  it('with the integration: the count equals the app’s at every step, and a logoff moves the user on their next request', async () => {
    await using sessions = await tempDir('handover-php-');
    await using harness = await TestSupervisor.launch(phpPool('v1', sessions.path, true));

    const alice = new Client(harness.proxyUrl);
    // A stale cookie from some earlier visit: PHP regenerates at login, the old id is reported ended.
    alice.cookies.set('PHPSESSID', 'stale0from0a0previous0visit');
    expect((await alice.post('/login.php')).json).toMatchObject({ worker: 'web@0', counter: 0 });
    expect((await alice.post('/count.php')).json).toMatchObject({ worker: 'web@0', counter: 1 });
    expect(harness.worker('web@0').sessions).toBe(1);
    expect(await appCount(harness, 'web@0')).toBe(1);

    await harness.writeConfig(phpPool('v2', sessions.path, true));
    await harness.supervisor.detachAndSync('web@0', 'operator');

    const bob = new Client(harness.proxyUrl);
    expect((await bob.post('/login.php')).json).toMatchObject({ worker: 'web@1', revision: 'v2' });
    expect((await alice.post('/count.php')).json).toMatchObject({ worker: 'web@0', revision: 'v1', counter: 2 });
    expect([harness.worker('web@0').sessions, harness.worker('web@1').sessions]).toEqual([1, 1]);
    expect([await appCount(harness, 'web@0'), await appCount(harness, 'web@1')]).toEqual([1, 1]);

    // The stock logout: session_destroy(), the cookie left in the browser.
    const sid = alice.cookies.get('PHPSESSID');
    expect((await alice.post('/logout.php')).json).toMatchObject({ worker: 'web@0', loggedOut: true });
    expect(alice.cookies.get('PHPSESSID')).toBe(sid);
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');
    // Her next request, with the same cookie, lands on the new revision (PHP adopts the id there).
    expect((await alice.get('/state.php')).json).toMatchObject({ worker: 'web@1', revision: 'v2', user: null });
    expect(harness.worker('web@1').sessions).toBe(2);
    expect(await appCount(harness, 'web@1')).toBe(2);
  });

  it('without it: a stale id PHP adopts is learned (counts agree), but a logout that leaves the cookie keeps the user on the old worker', async () => {
    await using sessions = await tempDir('handover-php-');
    await using harness = await TestSupervisor.launch(phpPool('v1', sessions.path, false));

    const carol = new Client(harness.proxyUrl);
    carol.cookies.set('PHPSESSID', 'adopted0without0a0word');
    expect((await carol.get('/state.php')).json).toMatchObject({ worker: 'web@0', user: null });
    await waitFor(() => harness.worker('web@0').sessions === 1, 5000, 'the adopted id learned');
    expect(await appCount(harness, 'web@0')).toBe(1);

    await harness.writeConfig(phpPool('v2', sessions.path, false));
    await harness.supervisor.detachAndSync('web@0', 'operator');
    // The adopted session is kept where its state is.
    expect((await carol.get('/state.php')).json).toMatchObject({ worker: 'web@0' });

    // Logging in rotates the id (Set-Cookie): counted on web@0 still, as the app counts it.
    expect((await carol.post('/login.php')).json).toMatchObject({ worker: 'web@0' });
    expect(harness.worker('web@0').sessions).toBe(await appCount(harness, 'web@0'));
    // The stock logout sends no Set-Cookie: cookie accounting cannot see it end, so she stays on
    // web@0 until the idle timeout. This is what the integration adds.
    await carol.post('/logout.php');
    expect((await carol.get('/state.php')).json).toMatchObject({ worker: 'web@0' });
    expect(harness.worker('web@0')).toMatchObject({ state: 'detached', sessions: 1 });
  });
});

describe('PHP without the integration, with the PHP manual’s logout (the cookie expired)', () => {
  it('the story holds on cookie accounting alone: the count equals the app’s at every step, the user moves, the old worker stops by itself', async () => {
    await using sessions = await tempDir('handover-php-');
    await using harness = await TestSupervisor.launch(phpPool('v1', sessions.path, false));
    const counts = async (...workers: string[]) => ({
      handover: workers.map((w) => harness.worker(w).sessions),
      app: await Promise.all(workers.map((w) => appCount(harness, w))),
    });

    const alice = new Client(harness.proxyUrl);
    expect((await alice.post('/login.php')).json).toMatchObject({ worker: 'web@0', counter: 0 });
    expect((await alice.post('/count.php')).json).toMatchObject({ worker: 'web@0', counter: 1 });
    expect(await counts('web@0')).toEqual({ handover: [1], app: [1] });

    await harness.writeConfig(phpPool('v2', sessions.path, false));
    await harness.supervisor.detachAndSync('web@0', 'operator');
    expect(await counts('web@0', 'web@1')).toEqual({ handover: [1, 0], app: [1, 0] });

    const bob = new Client(harness.proxyUrl);
    expect((await bob.post('/login.php')).json).toMatchObject({ worker: 'web@1', revision: 'v2' });
    expect((await alice.post('/count.php')).json).toMatchObject({ worker: 'web@0', revision: 'v1', counter: 2 });
    expect(await counts('web@0', 'web@1')).toEqual({ handover: [1, 1], app: [1, 1] });

    expect((await alice.post('/logout-clear.php')).json).toMatchObject({ worker: 'web@0', loggedOut: true });
    expect(alice.cookies.has('PHPSESSID')).toBe(false);
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');
    expect((await alice.get('/state.php')).json).toMatchObject({ worker: 'web@1', revision: 'v2', user: null });
    expect((await alice.post('/login.php')).json).toMatchObject({ worker: 'web@1' });
    expect(await counts('web@1')).toEqual({ handover: [2], app: [2] });
  });
});
