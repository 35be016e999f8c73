/**
 * The operator's view (#10) against the real supervisor: what the pools say about the
 * configuration file as it is now, the session history across a restart, and the banner.
 * What the fake answers alike is in control-contract.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asyncResource } from '../../../test-support/resources';
import { launchSupervisor } from '../src/launch';
import { tryLine } from '../src/start';
import { Client, TestSupervisor, demoPool, randomBasePort, testConfigLoader, waitFor } from './harness';
import { Installation } from './installation';

describe('the configuration file as it is now', () => {
  it('drift names a changed command, directory and environment (never the values) and the settings a sync applies; the sync replaces the worker', async () => {
    await using sup = await TestSupervisor.launch(demoPool('v1', { env: { SECRET_TOKEN: 'hunter2', KEPT: '1' } }));
    expect(sup.supervisor.listPools()[0]).toMatchObject({ drift: null, configError: null, runningRevisions: ['v1'] });
    await sup.writeConfig(
      demoPool('v1', { command: `${demoPool('v1').command} --flag`, env: { SECRET_TOKEN: 'swordfish', ADDED: 'x' }, idleTimeoutSeconds: 600 }),
    );
    const drift = await waitFor(() => sup.supervisor.listPools()[0]!.drift, 20_000, 'the edit to show as drift');
    expect(drift).toEqual({
      configuredRevision: 'v1',
      runningRevisions: ['v1'],
      changes: [
        'command changed (web@0 runs the old one)',
        'env ADDED added',
        'env KEPT removed',
        'env SECRET_TOKEN changed',
        'idleTimeoutSeconds 1800 → 600 (a sync applies it)',
      ],
    });
    expect(JSON.stringify(sup.supervisor.listPools())).not.toMatch(/hunter2|swordfish/);
    expect(sup.supervisor.listPools()[0]!.command).toMatch(/--flag$/);
    const plan = await sup.supervisor.planSync('web');
    expect(plan.pools[0]).toMatchObject({ start: 1, detach: ['web@0'], upToDate: false, changes: drift.changes });

    const result = await sup.supervisor.sync('web', 'test');
    expect(result.pools[0]!.started.map((w) => w.id)).toEqual(['web@1']);
    expect(result.pools[0]!.detached!.map((w) => w.id)).toEqual(['web@0']);
    expect(sup.supervisor.listPools()[0]).toMatchObject({ drift: null });
  }, 60_000);

  it('a file that does not parse blocks nothing: the workers serve on, the error shows until the file is fixed, with no event per re-read', async () => {
    await using sup = await TestSupervisor.launch(demoPool('v1'));
    const alice = new Client(sup.proxyUrl);
    expect((await alice.post('/api/login')).status).toBe(200);
    const eventsBefore = sup.events.length;
    await writeFile(sup.configPath, '{ "pools": [ { "name": "web", ');
    const error = await waitFor(() => sup.supervisor.listPools()[0]!.configError, 20_000, 'the configuration error');
    expect(error).toContain(sup.configPath);
    expect((await alice.post('/api/count')).status).toBe(200);
    expect(sup.supervisor.listPools()[0]).toMatchObject({ revision: 'v1', status: 'ok', drift: null });
    // The watch and the timer only look: no event until an operation is refused.
    expect(sup.events.slice(eventsBefore).map((e) => e.type)).toEqual([]);
    await expect(sup.supervisor.detachAndSync('web@0', 'test')).rejects.toThrow(/^The configuration was not applied and nothing changed: /);
    expect(sup.worker('web@0')).toMatchObject({ state: 'started', attached: true });
    await sup.writeConfig(demoPool('v2'));
    await waitFor(() => sup.supervisor.listPools()[0]!.configError === null, 20_000, 'the error to clear');
    expect(sup.supervisor.listPools()[0]).toMatchObject({ revision: 'v2', drift: { configuredRevision: 'v2', runningRevisions: ['v1'] } });
  }, 60_000);
});

describe('drain detail', () => {
  it('an open WebSocket is something only the deadline ends', async () => {
    await using sup = await TestSupervisor.launch(demoPool('v1', { drain: { maxSeconds: 600 } }));
    const alice = new Client(sup.proxyUrl);
    await alice.post('/api/login');
    const { default: WebSocket } = await import('ws');
    const socket = new WebSocket(`ws://127.0.0.1:${sup.proxyPort}/ws`, { headers: { cookie: `demo.sid=${alice.cookies.get('demo.sid')}` } });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    await using _socket = asyncResource(socket, () => socket.close());
    await sup.supervisor.detachAndSync('web@0', 'test');
    await waitFor(() => sup.worker('web@0').webSockets === 1);
    const info = sup.supervisor.drainInfo('web@0', 10);
    expect(info).toMatchObject({ maxSeconds: 600, webSockets: 1, sessions: 1, etaBasis: 'deadline', eta: info.deadline });
    expect(info.remaining).toEqual([expect.objectContaining({ id: `${alice.cookies.get('demo.sid')!.slice(0, 6)}…`, open: 1 })]);
    expect(JSON.stringify(info)).not.toContain(alice.cookies.get('demo.sid')!);
  }, 60_000);
});

/** A data directory and configuration of its own, for supervisors launched one after the other on it. */
async function historyInstallation() {
  const dir = await mkdtemp(join(tmpdir(), 'handover-history-'));
  const configPath = join(dir, 'handover.config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      pools: [{ name: 'web', basePort: randomBasePort(), healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 50 }, ...demoPool('v1') }],
    }),
  );
  const { env, load } = testConfigLoader(configPath);
  return {
    launch: async () => launchSupervisor(await load(), { env, reloadConfig: load }),
    [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }),
  };
}

describe('session history', () => {
  it('an ended worker gets a last sample of 0 at its stop time, then none', async () => {
    await using sup = await TestSupervisor.launch(demoPool('v1'));
    const alice = new Client(sup.proxyUrl);
    await alice.post('/api/login');
    await waitFor(() => sup.supervisor.sessionHistory().some((s) => s.sessions['web@0'] === 1), 20_000, 'a sample with the session');
    await sup.supervisor.detachAndSync('web@0', 'test');
    await alice.post('/api/logout');
    await sup.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');
    const stoppedAt = sup.worker('web@0').stoppedAt!;
    const history = await waitFor(
      () => {
        const samples = sup.supervisor.sessionHistory();
        return samples.some((s) => Date.parse(s.at) > Date.parse(stoppedAt) && !('web@0' in s.sessions)) && samples;
      },
      20_000,
      'a sample after the stop',
    );
    const withWeb0 = history.filter((s) => 'web@0' in s.sessions);
    expect(withWeb0.at(-1)).toEqual({ at: stoppedAt, sessions: expect.objectContaining({ 'web@0': 0 }) });
    expect(history.filter((s) => Date.parse(s.at) > Date.parse(stoppedAt)).every((s) => !('web@0' in s.sessions))).toBe(true);
    expect(sup.supervisor.workerMarkers().map((m) => [m.worker, m.state, m.stoppedAt])).toEqual([
      ['web@0', 'stopped', stoppedAt],
      ['web@1', 'started', null],
    ]);
  }, 60_000);

  it('samples and markers are kept in the store and read back by the next supervisor', async () => {
    await using install = await historyInstallation();
    const first = await install.launch();
    let firstStopped = false;
    await using _first = asyncResource(first, () => (firstStopped ? undefined : first.stop(2_000)));
    await new Client(`http://127.0.0.1:${first.proxies[0]!.port}`).post('/api/login');
    const seen = await waitFor(() => first.supervisor.sessionHistory().find((s) => s.sessions['web@0'] === 1), 20_000, 'a sample');
    await first.stop(2_000);
    firstStopped = true;

    const second = await install.launch();
    await using _second = asyncResource(second, () => second.stop(2_000));
    const history = second.supervisor.sessionHistory({ minutes: 60 });
    expect(history).toContainEqual(seen);
    // web@0 was stopped with the first supervisor: its line ends at 0 once the new one samples.
    await waitFor(() => second.supervisor.sessionHistory().some((s) => s.sessions['web@0'] === 0), 20_000, 'the 0 of web@0');
    const markers = second.supervisor.workerMarkers({ minutes: 60 });
    expect(markers.map((m) => [m.worker, m.state])).toEqual([
      ['web@0', 'stopped'],
      ['web@1', 'started'],
    ]);
    expect(markers[0]).toMatchObject({ readyAt: expect.any(String), stoppedAt: expect.any(String) });
  }, 60_000);
  it('a supervisor stopped before its first sample still leaves its last counts and the drop to 0 for the next one', async () => {
    await using install = await historyInstallation();
    const first = await install.launch();
    let firstStopped = false;
    await using _first = asyncResource(first, () => (firstStopped ? undefined : first.stop(2_000)));
    // The stop comes at once after the login, well inside the 2 s between samples.
    expect((await new Client(`http://127.0.0.1:${first.proxies[0]!.port}`).post('/api/login')).status).toBe(200);
    await first.stop(2_000);
    firstStopped = true;

    const second = await install.launch();
    await using _second = asyncResource(second, () => second.stop(2_000));
    // Read before the new supervisor has sampled anything: all of it is the first one's.
    const withWeb0 = second.supervisor.sessionHistory({ minutes: 60 }).filter((s) => 'web@0' in s.sessions);
    expect(withWeb0.map((s) => s.sessions['web@0'])).toEqual([1, 0]);
    const stoppedAt = second.supervisor.workerMarkers({ minutes: 60 }).find((m) => m.worker === 'web@0')!.stoppedAt;
    // The drop is at the stop time (or 1 ms before, when the closing sample came in the same ms).
    expect(Date.parse(stoppedAt!) - Date.parse(withWeb0[1]!.at)).toBeGreaterThanOrEqual(0);
    expect(Date.parse(stoppedAt!) - Date.parse(withWeb0[1]!.at)).toBeLessThanOrEqual(1);
  }, 60_000);
});

describe('the banner', () => {
  it('suggests detaching a worker that exists', () => {
    expect(tryLine([{ id: 'web@5', state: 'started' }])).toBe('Try: npx handover status    npx handover detach web@5 --sync    Ctrl-C stops everything.');
    expect(tryLine([
      { id: 'api@0', state: 'detached' },
      { id: 'api@1', state: 'started' },
    ])).toContain('detach api@1 --sync');
    expect(tryLine([{ id: 'web@0', state: 'failed' }])).toBe('Try: npx handover status    Ctrl-C stops everything.');
  });

  it('after a restart, names the worker that runs now', async () => {
    await using install = await Installation.create();
    const first = await install.start();
    expect(first.run.output).toContain('npx handover detach web@0 --sync');
    first.run.child.kill('SIGTERM');
    expect(await first.run.exited).toBe(0);
    const second = await install.start();
    expect((await install.workers()).map((w) => w.id)).toEqual(['web@1']);
    expect(second.run.output).toContain('npx handover detach web@1 --sync');
    expect(second.run.output).not.toContain('detach web@0');
  }, 120_000);
});

describe('sync of a pool of several instances', () => {
  it('replaces every worker on another revision together: the successors take new sessions in one tick, the old ones are detached in it', async () => {
    await using sup = await TestSupervisor.launch(demoPool('v1', { instances: 2 }));
    await waitFor(() => sup.supervisor.listWorkers().filter((w) => w.state === 'started').length === 2, 30_000, 'two started workers');
    await sup.writeConfig(demoPool('v2', { instances: 2 }));
    const plan = await sup.supervisor.planSync('web');
    expect(plan.pools[0]).toMatchObject({ revision: 'v2', start: 2, detach: ['web@0', 'web@1'] });
    const before = sup.events.length;
    const result = await sup.supervisor.sync('web', 'test');
    expect(result.pools[0]!.started.map((w) => [w.id, w.revision])).toEqual([
      ['web@2', 'v2'],
      ['web@3', 'v2'],
    ]);
    expect(result.pools[0]!.detached!.map((w) => w.id)).toEqual(['web@0', 'web@1']);
    // Both old workers detached before either successor is announced: no moment with a mix.
    const order = sup.events.slice(before).filter((e) => e.type === 'worker.detached' || e.type === 'worker.started').map((e) => `${e.type} ${e.worker}`);
    expect(order).toEqual(['worker.detached web@0', 'worker.detached web@1', 'worker.started web@2', 'worker.started web@3']);
    expect(sup.supervisor.listPools()[0]).toMatchObject({ runningRevisions: ['v2'], drift: null, attached: 2 });
  }, 90_000);
});
