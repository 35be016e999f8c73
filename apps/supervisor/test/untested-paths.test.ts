/**
 * Behaviours issue #13 listed as untested at supervisor level, each with real processes:
 * idle expiry draining a detached worker of a cookie-only app, SIGINT to `handover start` (with
 * its keeper), and an in-flight request finishing across a SIGTERM to the supervisor.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AsyncResource, asyncResource } from '../../../test-support/resources';
import { checkProcess } from '../src/proc-identity';
import { Client, FIXTURES, TestSupervisor } from './harness';
import { Installation, type Run, login, onNewConnection, running } from './installation';
import { waitFor } from './wait';

const COOKIE_APP = join(FIXTURES, 'cookie-app.mjs');
const SLOW_APP = join(FIXTURES, 'slow-app.mjs');
const SLOW_BYTES = 256 * 1024;

/** The exit code, or a failure with the output if the process is still running at the deadline. */
async function exitWithin(run: Run, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`still running after ${ms} ms:\n${run.output}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * An Installation, cleaned up on dispose. Installation.cleanup kills only demo workers: the
 * slow-app workers it saw are killed first, by pid (checked against their start time).
 */
async function installation(pool?: Record<string, unknown>): Promise<AsyncResource<Installation>> {
  const install = await Installation.create(pool);
  return asyncResource(install, async () => {
    for (const [pid, startTime] of install.workerPids) {
      let ours = false;
      try {
        ours = running(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(SLOW_APP) && checkProcess({ pid, startTime }) === 'alive';
      } catch {
        ours = false;
      }
      if (ours) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    await install.cleanup();
  });
}

describe('idle expiry drains a detached worker (cookie-only app)', () => {
  it('stops web@0 once its last session has been idle for idleTimeoutSeconds, not while a session keeps it busy', async () => {
    const idleSeconds = 2;
    const idleMs = idleSeconds * 1000;
    await using sup = await TestSupervisor.launch({
      command: `node ${JSON.stringify(COOKIE_APP)}`,
      sessionCookie: 'JSESSIONID',
      idleTimeoutSeconds: idleSeconds,
    });
    const alice = new Client(sup.proxyUrl);
    const bob = new Client(sup.proxyUrl);
    // Taken before the request: the proxy stamps the session's last use after this.
    const aliceSentAt = Date.now();
    expect((await alice.get('/cart')).json.worker).toBe('web@0');
    expect((await bob.get('/cart')).json.worker).toBe('web@0');
    // Learnt from Set-Cookie alone: the app reports nothing.
    expect(sup.worker('web@0').sessions).toBe(2);
    const web0Pid = sup.worker('web@0').pid!;

    await sup.supervisor.detachAndSync('web@0', 'test');
    const detachedAt = Date.now();
    expect(sup.worker('web@0').state).toBe('detached');
    expect(sup.worker('web@1').state).toBe('started');

    // Bob keeps using his session (a request every 200 ms) for more than twice the idle timeout;
    // Alice does nothing. Her session must expire; Bob's keeps web@0 alive.
    const drainedOrStopped = () =>
      sup.events.find((e) => e.worker === 'web@0' && (e.type === 'worker.drained' || e.type === 'worker.stopped'));
    let bobHits = 1;
    let bobSentAt = 0;
    let aliceExpiredAfterMs: number | undefined;
    let aliceGoneSeenAt = 0;
    const loopDeadline = Date.now() + 30_000;
    while (aliceExpiredAfterMs === undefined || Date.now() - detachedAt < 2 * idleMs + 1000) {
      if (Date.now() > loopDeadline) throw new Error(`Alice's session never expired: web@0 has ${sup.worker('web@0').sessions} session(s)`);
      bobSentAt = Date.now();
      const res = await bob.get('/cart');
      expect(res.status).toBe(200);
      expect(res.json.worker).toBe('web@0'); // still routed to the detached worker
      expect(res.json.hits).toBe(++bobHits); // the same session
      expect(drainedOrStopped()).toBeUndefined();
      const web0 = sup.worker('web@0');
      expect(web0.state).toBe('detached');
      if (aliceExpiredAfterMs === undefined && web0.sessions === 1) {
        aliceGoneSeenAt = Date.now();
        aliceExpiredAfterMs = aliceGoneSeenAt - detachedAt;
      }
      await new Promise((r) => setTimeout(r, 200)); // Bob's think time, not a wait for a condition
    }
    // Not before the idle timeout had passed since her last request (seen gone only after it expired).
    expect(aliceGoneSeenAt - aliceSentAt).toBeGreaterThanOrEqual(idleMs);
    expect(sup.worker('web@0')).toMatchObject({ state: 'detached', sessions: 1 });

    // Bob stops: web@0 drains once his session has been idle for the timeout, then stops.
    const drained = await sup.waitForEvent((e) => e.worker === 'web@0' && e.type === 'worker.drained', idleMs + 15_000);
    // The supervisor's own timestamp (same process, same clock): his session was last used after bobSentAt.
    const drainedAfterMs = Date.parse(drained.at) - bobSentAt;
    expect(drainedAfterMs).toBeGreaterThanOrEqual(idleMs);
    await sup.waitForEvent((e) => e.worker === 'web@0' && e.type === 'worker.stopped', 15_000);
    expect(drained.id).toBeLessThan(sup.events.find((e) => e.worker === 'web@0' && e.type === 'worker.stopped')!.id);
    expect(sup.worker('web@0').state).toBe('stopped');
    await waitFor(() => !running(web0Pid), 10_000, 'web@0 process to be gone');
    // The successor is untouched, and Bob (session forgotten) lands on it.
    expect(sup.worker('web@1').state).toBe('started');
    expect((await bob.get('/cart')).json.worker).toBe('web@1');
    process.stdout.write(`[untested-paths] idle expiry: alice expired ${aliceExpiredAfterMs} ms after detach; web@0 drained ${drainedAfterMs} ms after Bob's last request\n`);
  }, 90_000);
});

describe('SIGINT to handover start (with the keeper)', () => {
  it('stops every worker (a detached one with a session too), exits 0, leaves no process, and the store says stopped', async () => {
    await using install = await installation();
    const { run } = await install.start(true);
    const supervisorPid = await install.supervisorPid();
    const client = await login(install);
    expect((await client.post('/api/count')).json.worker).toBe('web@0');
    await install.mutate('workers.detachAndSync', { worker: 'web@0' });
    await waitFor(async () => (await install.worker('web@1')).state === 'started', 60_000, 'web@1 started');
    const workers = await install.workers();
    expect(workers.find((w) => w.id === 'web@0')).toMatchObject({ state: 'detached', sessions: 1 });
    const pids = workers.map((w) => w.pid!);
    expect(pids.length).toBe(2);
    expect(pids.every((pid) => running(pid))).toBe(true);

    run.child.kill('SIGINT'); // Ctrl-C reaches the keeper (the supervisor is in a group of its own)
    expect(await exitWithin(run, 30_000), run.output).toBe(0);
    expect(run.output).toContain('SIGINT received');
    expect(running(supervisorPid)).toBe(false);
    for (const pid of pids) expect(running(pid), `worker pid ${pid}`).toBe(false);
    expect(await install.proxyRefuses()).toBe(true);
    const stored = install.storedWorkers();
    expect(stored.filter((w) => w.id === 'web@0' || w.id === 'web@1').map((w) => [w.id, w.state]).sort()).toEqual([
      ['web@0', 'stopped'],
      ['web@1', 'stopped'],
    ]);
  }, 120_000);
});

describe('SIGTERM to the supervisor with a request in flight', () => {
  it('answers the request in full (200), refuses new connections meanwhile, then stops the worker and exits 0', async () => {
    await using install = await installation({ command: `node ${JSON.stringify(SLOW_APP)}`, sessionCookie: 'sid' });
    const slowDir = install.dir;
    // The fixture reads SLOW_DIR; the pool's env passes it (written before the start).
    const config = JSON.parse(readFileSync(install.configPath, 'utf8'));
    config.pools[0].env = { SLOW_DIR: slowDir };
    await writeFile(install.configPath, JSON.stringify(config));

    const { run } = await install.start(false); // no keeper: the signal reaches the supervisor itself
    const web0 = await install.worker('web@0');

    const slow = onNewConnection(install.proxyPort, 'GET', '/slow', {});
    let slowSettled = false;
    void slow.then(
      () => (slowSettled = true),
      () => (slowSettled = true),
    );
    await waitFor(() => existsSync(join(slowDir, 'arrived')), 20_000, 'the slow request to reach the worker');

    run.child.kill('SIGTERM');
    await waitFor(() => run.output.includes('SIGTERM received'), 10_000, 'the supervisor to take the signal');
    // New connections: refused (the proxy closes its listening socket; no 503 is written).
    await waitFor(() => install.proxyRefuses(), 5_000, 'new connections to be refused');
    // Still waiting for the in-flight request: supervisor and worker alive, request unanswered.
    expect(run.child.exitCode).toBeNull();
    expect(running(web0.pid!)).toBe(true);
    expect(slowSettled).toBe(false);

    await writeFile(join(slowDir, 'release'), '');
    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(SLOW_BYTES);
    expect(res.body.slice(0, 26)).toBe('abcdefghijklmnopqrstuvwxyz');
    expect(res.body.slice(-1)).toBe(String.fromCharCode(97 + ((SLOW_BYTES - 1) % 26)));

    expect(await exitWithin(run, 30_000), run.output).toBe(0);
    await waitFor(() => !running(web0.pid!), 10_000, 'the worker to be gone');
    expect(install.storedWorkers().find((w) => w.id === 'web@0')?.state).toBe('stopped');
  }, 120_000);
});

describe('a graceful stop under the keeper', () => {
  it('new connections are refused at once (the keeper lets go of its copy of the socket), the request in flight is answered in full', async () => {
    await using install = await installation({ command: `node ${JSON.stringify(SLOW_APP)}`, sessionCookie: 'sid' });
    const slowDir = install.dir;
    const config = JSON.parse(readFileSync(install.configPath, 'utf8'));
    config.pools[0].env = { SLOW_DIR: slowDir };
    await writeFile(install.configPath, JSON.stringify(config));

    const { run } = await install.start(true);
    const web0 = await install.worker('web@0');
    const slow = onNewConnection(install.proxyPort, 'GET', '/slow', {});
    await waitFor(() => existsSync(join(slowDir, 'arrived')), 20_000, 'the slow request to reach the worker');

    run.child.kill('SIGTERM'); // to the keeper, as a service manager would
    await waitFor(() => run.output.includes('SIGTERM received'), 10_000, 'the supervisor to take the signal');
    // Refused while the request is still being answered (it used to wait in the keeper's queue, then reset).
    await waitFor(() => install.proxyRefuses(), 5_000, 'new connections to be refused');
    expect(running(web0.pid!)).toBe(true);

    await writeFile(join(slowDir, 'release'), '');
    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(SLOW_BYTES);
    expect(await exitWithin(run, 30_000), run.output).toBe(0);
    await waitFor(() => !running(web0.pid!), 10_000, 'the worker to be gone');
  }, 120_000);
});
