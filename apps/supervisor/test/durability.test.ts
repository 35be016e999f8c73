/**
 * The supervisor restarts without dropping a session: it runs here as a real child process
 * (`handover start`), is killed with SIGKILL or stopped with `handover stop --keep-workers`, and
 * a new one re-adopts the workers from the store in the data directory. Real processes, real
 * sockets; every wait is on an event or a poll with a deadline.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { HandoverEvent, WorkerInfo } from '@handover/process-table';
import { Client, REPO_ROOT, waitFor } from './harness';
import {
  Installation,
  TOKEN,
  count,
  login,
  onNewConnection,
  postOnNewConnection,
  procState,
  report,
  running,
  sessionId,
} from './installation';

/**
 * Sessions kept, from the supervisor's own record: of the bindings in `before` (session id →
 * worker, taken before the fault), how many its store still has on the same worker, read once
 * the store holds as many sessions as `workers.list` counts (the store is flushed every 200 ms).
 */
async function sessionsKept(install: Installation, before: Record<string, string>): Promise<number> {
  const stored = await waitFor(
    async () => {
      const held = (await install.workers()).reduce((sum, w) => sum + w.sessions, 0);
      const rows = install.storedSessions();
      return rows.length === held ? rows : undefined;
    },
    10_000,
    'the store to agree with workers.list',
  );
  return Object.entries(before).filter(([id, worker]) => stored.some((s) => s.id === id && s.worker === worker)).length;
}

/** Session id → worker for these logged-on clients. */
function bindings(worker: string, clients: Client[]): Record<string, string> {
  return Object.fromEntries(clients.map((c) => [sessionId(c), worker]));
}

describe('the supervisor restarts without dropping a session', () => {

  it('kill -9 of the supervisor: the worker lives on, a new supervisor re-adopts it, the session continues', async () => {
    await using install = await Installation.create();
    const first = await install.start();
    const alice = await login(install);
    for (let i = 1; i <= 3; i++) expect(await count(alice)).toEqual({ worker: 'web@0', counter: i });
    // 20 more users with a counter each.
    const others = await Promise.all(Array.from({ length: 20 }, () => login(install!)));
    for (const other of others) expect(await count(other)).toEqual({ worker: 'web@0', counter: 1 });
    const web0 = await install.worker('web@0');
    expect(web0).toMatchObject({ state: 'started', sessions: 21 });
    const before = bindings('web@0', [alice, ...others]);
    await install.waitForStoredSessions(before);

    await install.kill9(first.run);
    const killedAt = Date.now();
    expect(running(web0.pid!)).toBe(true);
    expect(await install.proxyRefuses()).toBe(true);

    const second = await install.start();
    const status = await install.workers();
    expect(status).toHaveLength(1);
    expect(status[0]).toMatchObject({ id: 'web@0', state: 'started', pid: web0.pid, sessions: 21, port: web0.port });
    const adopted = await install.waitForEvent((e) => e.type === 'worker.adopted' && e.worker === 'web@0');
    expect(adopted.data).toMatchObject({ sessions: 21, state: 'started' });
    // Same worker, same in-memory state: the counter goes on.
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 4 });
    const downMs = Date.now() - killedAt;
    for (const other of others) expect(await count(other)).toEqual({ worker: 'web@0', counter: 2 });
    // Its output is still collected (from its log file), old lines included.
    await waitFor(
      async () =>
        (await install!.query<Array<{ text: string }>>('workers.logs', { worker: 'web@0', lines: 50 })).some((l) =>
          /listening on 127\.0\.0\.1/.test(l.text),
        ),
      10_000,
      'the worker log lines',
    );
    // The CLI shows it too.
    const cliStatus = install.cli(['status']);
    expect(await cliStatus.exited).toBe(0);
    expect(cliStatus.output).toMatch(/web@0\s+started/);
    const kept = await sessionsKept(install, before);
    const { sessionsLost } = await install.pool();
    expect(kept).toBe(21);
    expect(sessionsLost).toBe(0);
    report('kill -9', { sessionsKept: kept, sessionsLost, restartToBannerMs: second.readyMs, adoptMs: adopted.data?.adoptMs, downMs });

    // A plain SIGTERM still stops everything; the next start adopts nothing and starts fresh.
    second.run.child.kill('SIGTERM');
    expect(await second.run.exited).toBe(0);
    await waitFor(() => !running(web0.pid!), 10_000, 'web@0 to exit');
    expect(install.storedWorkers().find((w) => w.id === 'web@0')?.state).toBe('stopped');
    const third = await install.start();
    const fresh = await install.workers();
    expect(fresh.map((w) => [w.id, w.state])).toEqual([['web@1', 'started']]);
    const events = await install.events();
    const lastStart = events.findLast((e) => e.type === 'supervisor.started')!;
    expect(events.filter((e) => e.id > lastStart.id && (e.type === 'worker.adopted' || e.type === 'worker.lost'))).toEqual([]);
    // The old cookie is unknown now: the app answers as for no session, no 502.
    expect((await alice.post('/api/count')).status).toBe(401);
    third.run.child.kill('SIGTERM');
    expect(await third.run.exited).toBe(0);
  });

  it('kill -9 of a supervisor running a pool of 3 instances: each is re-adopted with its sessions, and new sessions spread over all three again', async () => {
    await using install = await Installation.create({ instances: 3 });
    const first = await install.start();
    await waitFor(async () => (await install.workers()).filter((w) => w.state === 'started').length === 3 || undefined, 20_000, 'three started instances');
    const before: Record<string, string> = {};
    const users: Array<{ client: Client; worker: string }> = [];
    for (let i = 0; i < 9; i++) {
      const client = await login(install);
      const { worker } = await count(client);
      users.push({ client, worker });
      before[sessionId(client)] = worker;
    }
    const perWorker = (workers: string[]) => Object.fromEntries(['web@0', 'web@1', 'web@2'].map((id) => [id, workers.filter((w) => w === id).length]));
    expect(perWorker(users.map((u) => u.worker))).toEqual({ 'web@0': 3, 'web@1': 3, 'web@2': 3 });
    const pids = Object.fromEntries((await install.workers()).map((w) => [w.id, w.pid]));
    await install.waitForStoredSessions(before);

    await install.kill9(first.run);
    await install.start();
    const adopted = await install.workers();
    expect(adopted.map((w) => ({ id: w.id, state: w.state, attached: w.attached, pid: w.pid, sessions: w.sessions }))).toEqual(
      ['web@0', 'web@1', 'web@2'].map((id) => ({ id, state: 'started', attached: true, pid: pids[id], sessions: 3 })),
    );
    // Every session goes on where it was, with its state.
    for (const user of users) expect(await count(user.client)).toEqual({ worker: user.worker, counter: 2 });
    // New visitors are spread over the three again, not all sent to the newest.
    const newcomers: string[] = [];
    for (let i = 0; i < 9; i++) newcomers.push((await count(await login(install))).worker);
    expect(perWorker(newcomers)).toEqual({ 'web@0': 3, 'web@1': 3, 'web@2': 3 });
  });

  it('a detached worker keeps draining across a kill -9: re-adopted detached, logging off stops it', async () => {
    await using install = await Installation.create({ drain: { maxSeconds: 600 } });
    const first = await install.start();
    const alice = await login(install);
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 1 });
    const result = await install.mutate<{ detached: WorkerInfo; started: WorkerInfo }>('workers.detachAndSync', { worker: 'web@0' });
    expect(result.started.id).toBe('web@1');
    const bob = await login(install);
    expect(await count(bob)).toEqual({ worker: 'web@1', counter: 1 });
    const [web0, web1] = [await install.worker('web@0'), await install.worker('web@1')];
    expect(web0).toMatchObject({ state: 'detached', sessions: 1 });
    const bound = { ...bindings('web@0', [alice]), ...bindings('web@1', [bob]) };
    await install.waitForStoredSessions(bound);

    // The drain's deadline: the detach plus its 600 s.
    expect(web0.drainDeadline).toBe(new Date(Date.parse(web0.detachedAt!) + 600_000).toISOString());

    await install.kill9(first.run);
    expect(running(web0.pid!) && running(web1.pid!)).toBe(true);

    const restartedAt = Date.now();
    await install.start();
    const readopted = await install.workers();
    expect(readopted.map((w) => [w.id, w.state, w.pid, w.sessions])).toEqual([
      ['web@0', 'detached', web0.pid, 1],
      ['web@1', 'started', web1.pid, 1],
    ]);
    const adopted = await install.waitForEvent((e) => e.type === 'worker.adopted' && e.worker === 'web@0');
    // The drain timer resumed with what was left of its 600 s: the same deadline, not a new one…
    expect(readopted.find((w) => w.id === 'web@0')!.drainDeadline).toBe(web0.drainDeadline);
    // …and what the event says was left is that deadline less the moment of adoption, which lies
    // between this restart and the event.
    const deadline = Date.parse(web0.drainDeadline!);
    expect(adopted.data!.drainLeftMs as number).toBeLessThanOrEqual(deadline - restartedAt);
    expect(adopted.data!.drainLeftMs as number).toBeGreaterThanOrEqual(deadline - Date.parse(adopted.at));
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 2 });
    expect(await count(bob)).toEqual({ worker: 'web@1', counter: 2 });
    const kept = await sessionsKept(install, bound);
    expect(kept).toBe(2);
    // A new visitor goes to the attached worker.
    expect(await count(await login(install))).toEqual({ worker: 'web@1', counter: 1 });

    // Logging off ends the last session of web@0, which then stops by itself.
    const before = (await install.events()).at(-1)!.id;
    expect((await alice.post('/api/logout')).status).toBe(200);
    await install.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0', before);
    await waitFor(() => !running(web0.pid!), 10_000, 'web@0 to exit');
    expect((await install.worker('web@0')).state).toBe('stopped');
    const { sessionsLost } = await install.pool();
    expect(sessionsLost).toBe(0);
    report('detached across kill -9', { sessionsKept: kept, sessionsLost, drainLeftMs: adopted.data!.drainLeftMs });
  });

  it('with the keeper (the default): kill -9 of the supervisor keeps the proxy port open; requests sent meanwhile wait and are served by the next one', async () => {
    await using install = await Installation.create();
    const { run: keeper } = await install.start(true);
    const alice = await login(install);
    for (let i = 1; i <= 3; i++) expect(await count(alice)).toEqual({ worker: 'web@0', counter: i });
    const web0 = await install.worker('web@0');
    const before = bindings('web@0', [alice]);
    await install.waitForStoredSessions(before);
    const first = await install.supervisorPid();
    expect(first).not.toBe(keeper.child.pid);

    process.kill(first, 'SIGKILL');
    await waitFor(() => !running(first), 10_000, 'the supervisor to die');
    const killedAt = Date.now();
    // Sent while no supervisor runs: the keeper holds the listening socket, the kernel queues them.
    // New connections (fetch's pooled one died with the supervisor, as a browser's would; a browser
    // retries an idempotent request on a new connection by itself).
    const cookie = [...alice.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const sentDuringRestart = await Promise.all([
      postOnNewConnection(install.proxyPort, '/api/count', cookie),
      postOnNewConnection(install.proxyPort, '/api/login', ''),
      // The control port is held by the keeper too: `handover status` waits instead of failing.
      onNewConnection(install.controlPort, 'GET', '/trpc/workers.list', { authorization: `Bearer ${TOKEN}` }),
    ]);
    const waitedMs = Date.now() - killedAt;
    const [during, newcomer, status] = sentDuringRestart;
    const failed = sentDuringRestart.filter((r) => r.status !== 200).length;
    expect(failed).toBe(0);
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body).result.data).toMatchObject([{ id: 'web@0', state: 'started', pid: web0.pid }]);
    expect(during.status).toBe(200);
    expect(JSON.parse(during.body)).toMatchObject({ worker: 'web@0', session: { counter: 4 } });
    expect(newcomer.status).toBe(200);
    expect(JSON.parse(newcomer.body).worker).toBe('web@0');
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 5 });

    const second = await install.supervisorPid();
    expect(second).not.toBe(first);
    // The timeline says what happened.
    const restarted = (await install.events()).findLast((e) => e.type === 'supervisor.started')!;
    expect(restarted.message).toMatch(new RegExp(`by the keeper: the previous supervisor \\(pid ${first}\\) died \\(SIGKILL\\); restart 1 in a row`));
    expect(keeper.child.exitCode).toBeNull();
    expect(keeper.output).toMatch(new RegExp(`the supervisor \\(pid ${first}\\) died \\(SIGKILL\\); restart 1 in a row; starting a new one in 100 ms`));
    expect((await install.worker('web@0')).pid).toBe(web0.pid);
    const kept = await sessionsKept(install, before);
    const { sessionsLost } = await install.pool();
    expect(kept).toBe(1);
    expect(sessionsLost).toBe(0);
    report('kill -9 under the keeper', { sessionsKept: kept, sessionsLost, requestsDuringRestart: sentDuringRestart.length, failed, waitedMs });

    // SIGTERM to the keeper stops everything, once: exit 0, no worker left.
    keeper.child.kill('SIGTERM');
    expect(await keeper.exited).toBe(0);
    await waitFor(() => !running(second) && !running(web0.pid!), 10_000, 'the supervisor and web@0 to exit');
    expect(keeper.output).not.toMatch(/again, killing every worker/);
  });

  it('under the keeper, a bug in the supervisor (an uncaught exception) logs nobody out: the workers are left for the next one', async () => {
    await using install = await Installation.create();
    const fixture = join(REPO_ROOT, 'apps/supervisor/test/fixtures/inject-supervisor-bug.mjs');
    const { run: keeper } = await install.start(true, { NODE_OPTIONS: `--import ${fixture}` });
    const alice = await login(install);
    for (let i = 1; i <= 2; i++) expect(await count(alice)).toEqual({ worker: 'web@0', counter: i });
    const web0 = await install.worker('web@0');
    const before = bindings('web@0', [alice]);
    await install.waitForStoredSessions(before);
    const first = await install.supervisorPid();

    process.kill(first, 'SIGUSR2');
    await waitFor(() => !running(first), 10_000, 'the failing supervisor to exit');
    const cookie = [...alice.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const during = await postOnNewConnection(install.proxyPort, '/api/count', cookie);
    const failed = [during].filter((r) => r.status !== 200).length;
    expect(failed).toBe(0);
    expect(JSON.parse(during.body)).toMatchObject({ worker: 'web@0', session: { counter: 3 } });
    expect(keeper.output).toMatch(/unexpected error: Error: injected supervisor bug/);
    expect(keeper.output).toMatch(/leaving the workers running; the keeper starts a new supervisor that re-adopts them/);
    expect(keeper.output).toMatch(new RegExp(`the supervisor \\(pid ${first}\\) died \\(exit code 70\\)`));
    expect((await install.worker('web@0')).pid).toBe(web0.pid);
    const kept = await sessionsKept(install, before);
    const { sessionsLost } = await install.pool();
    expect(kept).toBe(1);
    expect(sessionsLost).toBe(0);
    const events = await install.events();
    expect(events.some((e) => e.type === 'supervisor.stopping' && /unexpected error in the supervisor/.test(e.message))).toBe(true);
    expect(events.some((e) => e.type === 'worker.adopted' && e.worker === 'web@0')).toBe(true);
    report('supervisor bug under the keeper', { sessionsKept: kept, sessionsLost, failed });
  });

  it('the keeper killed with -9: its supervisor leaves the workers running for the next `handover start`', async () => {
    await using install = await Installation.create();
    const { run: keeper } = await install.start(true);
    const alice = await login(install);
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 1 });
    const web0 = await install.worker('web@0');
    const supervisor = await install.supervisorPid();
    keeper.child.kill('SIGKILL');
    await waitFor(() => !running(supervisor), 10_000, 'the orphaned supervisor to leave');
    expect(await install.proxyRefuses()).toBe(true);
    expect(running(web0.pid!)).toBe(true);
    await install.start(true);
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 2 });
    expect((await install.worker('web@0')).pid).toBe(web0.pid);
  });

  it('a binding that never reached the store (kill -9 within the flush interval) is restored from the signed route cookie', async () => {
    await using install = await Installation.create({ drain: { maxSeconds: 600 } });
    const first = await install.start();
    const alice = await login(install);
    const bob = await login(install);
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 1 });
    expect(await count(bob)).toEqual({ worker: 'web@0', counter: 1 });
    // The proxy told each client, once, which worker holds its session.
    expect(alice.cookies.get('handover_route')).toMatch(/^web@0\.[0-9a-z]+\.[A-Za-z0-9_-]{16}$/);
    const aliceRoute = alice.cookies.get('handover_route')!;
    await install.mutate('workers.detachAndSync', { worker: 'web@0' });
    const before = bindings('web@0', [alice, bob]);
    await install.waitForStoredSessions(before);
    // The detach is written at once, but by the writer thread: wait until it is on disk.
    await waitFor(() => install!.storedWorkers().find((w) => w.id === 'web@0')?.state === 'detached', 10_000, 'web@0 stored detached');

    await install.kill9(first.run);
    // As if alice's binding had been made in the last 200 ms before the kill: the store lost it.
    const db = new Database(install.dbFile);
    const forgotten = ['sessions', 'session_log'].map((table) => db.prepare(`DELETE FROM ${table} WHERE id = ?`).run(sessionId(alice)).changes);
    expect(forgotten.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(1);
    db.close();

    await install.start();
    expect((await install.workers()).map((w) => [w.id, w.state, w.sessions])).toEqual([
      ['web@0', 'detached', 1],
      ['web@1', 'started', 0],
    ]);
    // Without the cookie alice would land on web@1, the new target, and be logged out (401).
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 2 });
    expect(await count(bob)).toEqual({ worker: 'web@0', counter: 2 });
    expect((await install.worker('web@0')).sessions).toBe(2);
    const kept = await sessionsKept(install, before);
    expect(kept).toBe(2);
    // A forged route cookie buys nothing: its request goes where one without it would, web@1 (the
    // target), not to the detached web@0 it names. Both workers answer a made-up session alike, so
    // the test looks at which worker answered. Forged two ways: a made-up signature, and alice's
    // genuine route cookie carried with another session id (the signature covers the id).
    const forgedAnswers: string[] = [];
    for (const route of ['web@0.AAAAAAAAAAAAAAAA', aliceRoute]) {
      const mallory = new Client(install.proxyUrl);
      mallory.cookies.set('demo.sid', 'made-up');
      mallory.cookies.set('handover_route', route);
      const answer = await mallory.get('/api/state');
      expect(answer.status).toBe(200);
      expect(answer.json.session).toBeNull();
      forgedAnswers.push(answer.json.worker);
    }
    expect(forgedAnswers).toEqual(['web@1', 'web@1']);
    const forgedCookieRouted = forgedAnswers.filter((w) => w === 'web@0').length;
    // The genuine cookie still works for the session it was issued to.
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 3 });
    expect(await count(await login(install))).toEqual({ worker: 'web@1', counter: 1 });
    const { sessionsLost } = await install.pool();
    expect(sessionsLost).toBe(0);
    report('binding lost by the store, route cookie', { sessionsKept: kept, sessionsLost, forgedCookieRouted });
  });

  it('`handover stop --keep-workers` exits leaving the workers; `handover start` re-adopts; `handover stop` stops all', async () => {
    await using install = await Installation.create();
    const first = await install.start();
    const alice = await login(install);
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 1 });
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 2 });
    const web0 = await install.worker('web@0');

    const stop = install.cli(['stop', '--keep-workers']);
    expect(await stop.exited, stop.output).toBe(0);
    expect(stop.output).toMatch(/web@0/);
    // The CLI returns once the supervisor is gone; it exited 0 and left the worker running.
    expect(await first.run.exited).toBe(0);
    expect(first.run.output).toMatch(/workers keep running/);
    expect(running(web0.pid!)).toBe(true);
    // A clean stop flushed everything: the session is in the store without waiting.
    expect(install.storedSessions()).toEqual([{ id: sessionId(alice), worker: 'web@0' }]);
    expect(install.storedWorkers()).toMatchObject([{ id: 'web@0', state: 'started', pid: web0.pid }]);

    const second = await install.start();
    expect(await install.workers()).toMatchObject([{ id: 'web@0', state: 'started', pid: web0.pid, sessions: 1 }]);
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 3 });
    const kept = await sessionsKept(install, bindings('web@0', [alice]));
    const { sessionsLost } = await install.pool();
    expect(kept).toBe(1);
    expect(sessionsLost).toBe(0);
    report('stop --keep-workers', { sessionsKept: kept, sessionsLost, restartToBannerMs: second.readyMs });

    // `handover stop` without flags: a graceful full stop, no process left, recorded stopped.
    const fullStop = install.cli(['stop']);
    expect(await fullStop.exited, fullStop.output).toBe(0);
    expect(await second.run.exited).toBe(0);
    await waitFor(() => !running(web0.pid!), 10_000, 'web@0 to exit');
    expect(install.storedWorkers()).toMatchObject([{ id: 'web@0', state: 'stopped' }]);
    expect(install.storedSessions()).toEqual([]);

    // The audit log survived all three supervisors and exports as JSON lines.
    const exportFile = join(install.dir, 'events.jsonl');
    const third = await install.start();
    const exported = install.cli(['events', '--export', exportFile]);
    expect(await exported.exited, exported.output).toBe(0);
    const lines = (await readFile(exportFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as HandoverEvent);
    expect(lines.filter((e) => e.type === 'supervisor.started')).toHaveLength(3);
    expect(lines.some((e) => e.type === 'worker.adopted' && e.worker === 'web@0')).toBe(true);
    expect(lines.some((e) => e.type === 'action' && /stop the supervisor and leave 1 worker/.test(e.message))).toBe(true);
    third.run.child.kill('SIGTERM');
    expect(await third.run.exited).toBe(0);
  });

  it('reports a worker that died while the supervisor was down, with its sessions lost, and starts a new one', async () => {
    await using install = await Installation.create();
    const first = await install.start();
    const alice = await login(install);
    const bob = await login(install);
    await count(alice);
    const web0 = await install.worker('web@0');
    const before = bindings('web@0', [alice, bob]);
    await install.waitForStoredSessions(before);

    await install.kill9(first.run);
    process.kill(-web0.pid!, 'SIGKILL');
    await waitFor(() => !running(web0.pid!), 10_000, 'web@0 to die');

    await install.start();
    const lost = await install.waitForEvent((e) => e.type === 'worker.lost' && e.worker === 'web@0');
    expect(lost.data).toMatchObject({ sessionsLost: 2, killed: false, recordedState: 'started' });
    expect(lost.message).toMatch(/is gone/);
    const workers = await install.workers();
    expect(workers.map((w) => [w.id, w.state])).toEqual([
      ['web@0', 'crashed'],
      ['web@1', 'started'],
    ]);
    const { sessionsLost } = await install.pool();
    expect(sessionsLost).toBe(2);
    // The lost session's cookie lands on the new worker, no 502.
    const stale = await alice.post('/api/count');
    expect(stale.status).toBe(401);
    expect(stale.json.worker).toBe('web@1');
    const kept = await sessionsKept(install, before);
    expect(kept).toBe(0);
    report('worker died while down', { sessionsKept: kept, sessionsLost });
  });

  it('kills and reports a worker that is alive but does not answer its health check at re-adoption', async () => {
    await using install = await Installation.create();
    const first = await install.start();
    const alice = await login(install);
    await count(alice);
    const web0 = await install.worker('web@0');
    const before = bindings('web@0', [alice]);
    await install.waitForStoredSessions(before);

    await install.kill9(first.run);
    // Frozen: the process exists (same pid, same start time) but answers nothing.
    process.kill(web0.pid!, 'SIGSTOP');
    await waitFor(() => procState(web0.pid!) === 'T', 10_000, 'web@0 to be stopped');

    const began = Date.now();
    await install.start();
    const restartWithProbeTimeoutMs = Date.now() - began;
    const lost = await install.waitForEvent((e) => e.type === 'worker.lost' && e.worker === 'web@0');
    expect(lost.data).toMatchObject({ sessionsLost: 1, killed: true });
    expect(lost.message).toMatch(/did not answer GET \/healthz/);
    await waitFor(() => !running(web0.pid!), 10_000, 'the frozen worker to be killed');
    expect((await install.workers()).map((w) => [w.id, w.state])).toEqual([
      ['web@0', 'crashed'],
      ['web@1', 'started'],
    ]);
    expect(await count(await login(install))).toEqual({ worker: 'web@1', counter: 1 });
    const kept = await sessionsKept(install, before);
    const { sessionsLost } = await install.pool();
    expect(kept).toBe(0);
    expect(sessionsLost).toBe(1);
    report('worker not answering', { sessionsKept: kept, sessionsLost, restartWithProbeTimeoutMs });
  });
});
