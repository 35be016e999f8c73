/**
 * The `handover` CLI end to end, in process: runCli → typed client → the REAL control server
 * (on port 0) → an in-memory fake supervisor. Only the supervisor is fake.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startControlServer } from '@handover/control-api';
import type { ControlServer } from '@handover/control-api';
import { FakeSupervisor, fakeWorker } from '@handover/control-api/testing';
import { resolveControlToken } from '@handover/secrets';
import { runCli } from '../src/cli/run';
import type { CliIO } from '../src/cli/run';
import { type AsyncResource, asyncResource, tempDir } from '../../../test-support/resources';

const TOKEN = 'cli-test-token-0123456789abcdef';
const NOW = Date.parse('2030-01-02T03:05:10.000Z');

async function writeConfig(file: string, controlPort: number, dataDir: string): Promise<void> {
  await writeFile(
    file,
    JSON.stringify({
      proxy: { port: controlPort === 1 ? 2 : 1 },
      control: { host: '127.0.0.1', port: controlPort },
      dataDir,
      pools: [{ name: 'web', command: 'node server.js', basePort: 30000, sessionCookie: 'connect.sid' }],
    }),
  );
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface CliTest {
  /** The working directory, with handover.config.json and the data directory in it. */
  dir: string;
  configPath: string;
  fake: FakeSupervisor;
  /** The real control server in front of the fake (a test may replace it). */
  server: ControlServer;
  /** `handover <argv>` in process, run in `dir` with the token, as user tester. */
  cli(argv: string[], overrides?: Partial<CliIO>): Promise<Run>;
}

/** A temp directory, a fake, a control server on port 0 and a config naming it; all gone on dispose. */
async function cliTest(): Promise<AsyncResource<CliTest>> {
  const tmp = await tempDir('handover-cli-');
  const dir = tmp.path;
  const fake = new FakeSupervisor();
  const server = await startControlServer({ supervisor: fake, token: TOKEN, host: '127.0.0.1', port: 0 });
  const configPath = path.join(dir, 'handover.config.json');
  await writeConfig(configPath, server.port, path.join(dir, 'data'));
  const test: CliTest = {
    dir,
    configPath,
    fake,
    server,
    async cli(argv, overrides = {}) {
      let stdout = '';
      let stderr = '';
      const code = await runCli(argv, {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
        env: { HANDOVER_CONTROL_TOKEN: TOKEN },
        cwd: dir,
        now: () => NOW,
        username: 'tester',
        ...overrides,
      });
      return { code, stdout, stderr };
    },
  };
  return asyncResource(test, async () => {
    await test.server.close();
    await tmp[Symbol.asyncDispose]();
  });
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('handover status', () => {
  it('prints aligned tables of workers and pools (config found in cwd)', async () => {
    await using t = await cliTest();
    const { cli } = t;
    const run = await cli(['status']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(
      [
        'WORKER  STATE     ATTACHED  REVISION  SESSIONS  IN-FLIGHT  WS   PID  PORT  UPTIME',
        'web@0   started   yes       v1               3          1   2  4000  9000  1m 05s',
        'web@1   detached  no        v0               1          0   0  4001  9001  1m 05s',
        '  web@1: drain ends by 2030-01-03 03:05:05 UTC at the latest (in 23h 59m)',
        '',
        'POOL  STATUS       REVISION  RUNNING  ATTACHED  RESTARTS  LOST  NOTE',
        'web   out of sync  v2        v1            1/1         0     0',
        '  web: the configuration differs from what runs: revision v1 → v2 (web@0 runs v1)',
        '  web: `handover sync web --dry-run` shows what a sync would do; `handover sync web` does it',
        '',
      ].join('\n'),
    );
  });

  it('shows a failed deploy with the last output of the worker that did not start, and a rejected configuration', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    fake.failNextStart = 'it exited during start (exit code 1)';
    expect((await cli(['detach', 'web@0', '--sync'])).code).toBe(1);
    const failed = fake.workers.get('web@2')!;
    fake.workers.set('web@2', {
      ...failed,
      lastError: 'web@2 did not start: it exited during start (exit code 1). Its last output:\nline 1\nline 2\nline 3\nline 4\nline 5\nError: boom',
    });
    fake.configError = 'Invalid JSON in handover.config.json: Unexpected end of JSON input (line 3, column 1)';
    const run = await cli(['status']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.split('\n');
    expect(lines).toContain('  web@2: web@2 did not start: it exited during start (exit code 1). Its last output (last 5 of 6 lines; `handover logs web@2` for more):');
    expect(lines).toContain('    | line 2');
    expect(lines).toContain('    | Error: boom');
    expect(lines).not.toContain('    | line 1');
    expect(run.stdout).not.toMatch(/Its last output:\s*$/m);
    expect(lines.find((l) => l.startsWith('web '))).toMatch(/^web\s+deploy failed\s+v2\s+v1\s+1\/1/);
    expect(lines).toContain(
      '  web: deploy failed at 2030-01-02 03:04:07 UTC: web@2 did not start: it exited during start (exit code 1). It printed nothing. (`handover logs web@2`); the attached workers keep serving',
    );
    expect(lines).toContain('  configuration rejected: Invalid JSON in handover.config.json: Unexpected end of JSON input (line 3, column 1)');
    // A failed start with no output says so, instead of a dangling "Its last output:".
    fake.workers.set('web@2', { ...failed, lastError: 'web@2 did not start: it timed out. Its last output:\n' });
    expect((await cli(['status'])).stdout).toContain('  web@2: web@2 did not start: it timed out. It printed nothing.\n');
  });

  it('works with a configuration file mid-edit (status, events, logs), with a warning; commands that change something refuse', async () => {
    await using t = await cliTest();
    const { cli } = t;
    // Cut short half-way through the pools: control and dataDir still readable.
    const whole = await readFile(t.configPath, 'utf8');
    await writeFile(t.configPath, whole.slice(0, whole.indexOf('"pools"') + 12));
    for (const argv of [['status'], ['events', '-n', '5'], ['logs', 'web@0', '-n', '2'], ['status', '--json']]) {
      const run = await cli(argv);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/^handover: warning: the configuration is not valid now; a running supervisor keeps its last good one, so this asks it on 127\.0\.0\.1:\d+:\n  /);
      expect(run.stdout).not.toBe('');
    }
    const detach = await cli(['detach', 'web@0', '--sync']);
    expect(detach.code).toBe(1);
    expect(detach.stderr).not.toContain('warning');
    expect(t.fake.calls.some((c) => c.method === 'detachAndSync')).toBe(false);
    // A missing file is no edit under way: still an error.
    const missing = await cli(['status', '--config', 'nope.json']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^handover: Configuration file not found:/);
  });

  it('prints raw JSON with --json', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    const run = await cli(['status', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ workers: fake.listWorkers(), pools: fake.listPools() });
  });

  it('finds the token in <dataDir>/control-token, the config through --config and HANDOVER_CONFIG', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    const other = path.join(t.dir, 'elsewhere');
    const file = path.join(t.dir, 'custom.json');
    await writeConfig(file, t.server.port, other);
    const { token } = await resolveControlToken({ dataDir: other, env: {} });
    await t.server.close();
    t.server = await startControlServer({ supervisor: fake, token, host: '127.0.0.1', port: t.server.port });

    const viaFlag = await cli(['status', '--config', 'custom.json'], { env: {} });
    expect(viaFlag.code, viaFlag.stderr).toBe(0);
    const viaEnv = await cli(['status'], { env: { HANDOVER_CONFIG: file } });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
  });

  it('reads the token from .env next to the configuration', async () => {
    await using t = await cliTest();
    const { cli } = t;
    await writeFile(path.join(t.dir, '.env'), `HANDOVER_CONTROL_TOKEN=${TOKEN}\n`);
    const run = await cli(['status'], { env: {} });
    expect(run.code, run.stderr).toBe(0);
  });
});

describe('operations', () => {
  it('detach: says what is draining', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    // Another started worker: the supervisor refuses to detach the only one.
    fake.workers.set('web@2', fakeWorker('web@2'));
    const run = await cli(['detach', 'web@0']);
    expect(run).toEqual({ code: 0, stdout: 'web@0 detached, draining 3 sessions, 1 request in flight, 2 WebSockets\n', stderr: '' });
    expect(fake.calls.find((c) => c.method === 'detach')).toEqual({ method: 'detach', args: ['web@0', 'cli:tester'] });
  });

  it('detach: warns when the pool is left with no attached worker (the other one crashed meanwhile)', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    fake.workers.set('web@2', fakeWorker('web@2'));
    const off = fake.onEvent((event) => {
      if (event.type === 'worker.detached') fake.workers.set('web@2', { ...fake.workers.get('web@2')!, state: 'crashed', attached: false });
    });
    const run = await cli(['detach', 'web@0']);
    off();
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('web@0 detached, draining 3 sessions, 1 request in flight, 2 WebSockets\n');
    expect(run.stderr).toMatch(/^warning: pool web has no attached worker now.*`handover sync web`.*`handover reattach web@0`/);
  });

  it('detach --sync: prints progress and the result', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    const run = await cli(['detach', 'web@0', '--sync']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(
      [
        'starting a successor for web@0 (re-reading the configuration) and waiting for its health check…',
        'web@2 ready in 1.2s (revision v2, port 9002); new sessions go to web@2',
        'web@0 detached, draining 3 sessions, 1 request in flight, 2 WebSockets',
        '',
      ].join('\n'),
    );
    expect(fake.calls.find((c) => c.method === 'detachAndSync')?.args).toEqual(['web@0', 'cli:tester']);
  });

  it('detach --sync: a successor that fails is an error, exit 1', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    fake.failNextStart = 'it exited during start (exit code 1)';
    const run = await cli(['detach', 'web@0', '--sync']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'handover: web@2 (revision v2) failed to start, so web@0 stays attached and keeps serving. ' +
        'web@2 did not start: it exited during start (exit code 1). It printed nothing.\n',
    );
    expect(fake.workers.get('web@0')?.attached).toBe(true);
  });

  it('prints supervisor errors to stderr with exit 1', async () => {
    await using t = await cliTest();
    const { cli } = t;
    expect(await cli(['detach', 'web@1'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'handover: cannot detach web@1: it is detached. It is already detached (draining); reattach it to roll back.\n',
    });
    expect(await cli(['detach', 'web@0'])).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'handover: web@0 is the only worker taking new sessions in pool web; detaching it would leave new visitors with nothing. ' +
        'Use detach-and-sync (`handover detach web@0 --sync`) to start a successor first.\n',
    });
    expect(await cli(['reattach', 'web@7'])).toEqual({ code: 1, stdout: '', stderr: 'handover: no worker web@7; running workers: web@0, web@1\n' });
    const sync = await cli(['sync', 'api']);
    expect(sync.code).toBe(1);
    expect(sync.stderr).toBe('handover: no pool api; pools: web\n');
  });

  it('reattach', async () => {
    await using t = await cliTest();
    const { cli } = t;
    const run = await cli(['reattach', 'web@1']);
    expect(run).toEqual({ code: 0, stdout: 'web@1 reattached: it takes new sessions again (revision v0)\n', stderr: '' });
  });

  it('sync, of every pool or one', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    // The file says what web@0 runs.
    fake.pools.get('web')!.revision = 'v1';
    const all = await cli(['sync']);
    expect(all).toEqual({
      code: 0,
      stdout: 'syncing every pool (re-reading the configuration)…\nweb: up to date, nothing to start\n',
      stderr: '',
    });
    // The attached worker crashed (its replacement not started yet): the pool lacks one.
    fake.workers.set('web@0', { ...fake.workers.get('web@0')!, state: 'crashed', attached: false });
    const one = await cli(['sync', 'web']);
    expect(one.stdout).toBe(
      'syncing pool web (re-reading the configuration)…\nweb: started web@2 ready in 1.2s (revision v1, port 9002)\n',
    );
    expect(fake.calls.filter((c) => c.method === 'sync').map((c) => c.args)).toEqual([
      [undefined, 'cli:tester'],
      ['web', 'cli:tester'],
    ]);
    const json = await cli(['sync', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ pools: [{ pool: 'web', started: [], detached: [], error: null }] });
  });

  it('sync --dry-run says what a sync would do without doing it', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    const run = await cli(['sync', '--dry-run']);
    expect(run).toEqual({
      code: 0,
      stdout: 'web: would start 1 worker on revision v2, then detach web@0 once its successor is ready (it drains)\n  revision v1 → v2 (web@0 runs v1)\n',
      stderr: '',
    });
    expect(fake.calls.filter((c) => c.method === 'sync')).toEqual([]);
    expect(JSON.parse((await cli(['sync', 'web', '--dry-run', '--json'])).stdout)).toMatchObject({ configError: null, pools: [{ pool: 'web', start: 1, detach: ['web@0'] }] });
    fake.configError = 'Invalid JSON in handover.config.json';
    const broken = await cli(['sync', '--dry-run']);
    expect(broken).toMatchObject({ code: 1, stdout: 'a sync would change nothing: the configuration does not parse:\n  Invalid JSON in handover.config.json\n' });
  });

  it('drain: what a detached worker holds, its deadline and expected end; --stop-now ends it', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    fake.workers.set('web@1', { ...fake.workers.get('web@1')!, sessions: 3 });
    const run = await cli(['drain', 'web@1', '-n', '2']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(
      [
        'web@1 detached 5.0s ago; 3 sessions, 0 requests and 0 WebSockets left',
        'deadline: 2030-01-03 03:05:05 UTC (in 23h 59m; drain.maxSeconds 86400)',
        'expected end: 2030-01-02 03:34:05 UTC (in 28m 55s: when the last session expires, if its user does nothing more)',
        'SESSION  LAST SEEN (UTC)      EXPIRES (UTC)        OPEN',
        'fakese…  2030-01-02 03:04:05  2030-01-02 03:34:05     0',
        'fakese…  2030-01-02 03:03:05  2030-01-02 03:33:05     0',
        '… and 1 more session (-n N lists more)',
        '`handover drain web@1 --stop-now` stops it now; what it still holds is lost',
        '',
      ].join('\n'),
    );
    expect(fake.calls.filter((c) => c.method === 'drainInfo').map((c) => c.args)).toEqual([['web@1', 2]]);
    const stop = await cli(['drain', 'web@1', '--stop-now']);
    expect(stop).toEqual({ code: 0, stdout: 'web@1 stopped; it still held 3 sessions, 0 requests, 0 WebSockets (those sessions are lost)\n', stderr: '' });
    expect(fake.calls.filter((c) => c.method === 'stopNow').map((c) => c.args)).toEqual([['web@1', 'cli:tester']]);
    const refused = await cli(['drain', 'web@0', '--stop-now']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('handover: cannot stop web@0 now: it is started. It takes new sessions: detach it first (`handover detach web@0 --sync` starts a successor).\n');
    const attached = (await cli(['drain', 'web@0'])).stdout.split('\n');
    expect(attached[0]).toBe('web@0 is started, not draining; it holds 3 sessions, 1 request and 2 WebSockets');
    expect(attached).not.toContain('`handover drain web@0 --stop-now` stops it now; what it still holds is lost');
  });

  it('logs', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    const run = await cli(['logs', 'web@0', '-n', '2']);
    expect(run).toEqual({
      code: 0,
      stdout: '2030-01-02 03:04:13 out | web@0 line 9\n2030-01-02 03:04:14 out | web@0 line 10\n',
      stderr: '',
    });
    expect(fake.calls.at(-1)).toEqual({ method: 'logs', args: ['web@0', 2] });
    await cli(['logs', 'web@0']);
    expect(fake.calls.at(-1)).toEqual({ method: 'logs', args: ['web@0', 200] });
  });

  it('events: a table of the last N', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    for (let i = 1; i <= 5; i++) fake.record('pool.synced', `event ${i}`, { pool: 'web' });
    const run = await cli(['events', '-n', '2']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        'ID  TIME (UTC)           ACTOR       TYPE         WORKER  MESSAGE',
        ' 4  2030-01-02 03:04:08  supervisor  pool.synced  web     event 4',
        ' 5  2030-01-02 03:04:09  supervisor  pool.synced  web     event 5',
        '',
      ].join('\n'),
    );
  });

  it('events --worker/--pool/--type/--actor: only what matches, in the table, the export and --follow', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    fake.record('worker.started', 'a', { pool: 'web', worker: 'web@0' });
    fake.record('action', 'b', { actor: 'cli:alice', pool: 'web', worker: 'web@0' });
    fake.record('worker.stopped', 'c', { pool: 'web', worker: 'web@1' });
    const messages = async (argv: string[]) => JSON.parse((await cli(['events', '--json', ...argv])).stdout).map((e: { message: string }) => e.message);
    expect(await messages(['--worker', 'web@0'])).toEqual(['a', 'b']);
    expect(await messages(['--type', 'worker.'])).toEqual(['a', 'c']);
    expect(await messages(['--type', 'worker.stopped', '--pool', 'web'])).toEqual(['c']);
    expect(await messages(['--actor', 'cli:alice'])).toEqual(['b']);
    expect((await cli(['events', '--worker', 'web@1', '--export', 'w1.jsonl'])).stdout).toMatch(/^exported 1 event to /);
    expect((await readFile(path.join(t.dir, 'w1.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l).message)).toEqual(['c']);
    const bad = await cli(['events', '--type', 'worker stopped']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^handover: invalid input: type: /);
    expect((await cli(['status', '--worker', 'web@0'])).code).toBe(2);
  });

  it('events --follow: history, then live events over SSE, until aborted', async () => {
    await using t = await cliTest();
    const { fake } = t;
    for (let i = 1; i <= 3; i++) fake.record('pool.synced', `event ${i}`);
    const stop = new AbortController();
    let stdout = '';
    const done = runCli(['events', '-n', '2', '--follow'], {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: () => true },
      env: { HANDOVER_CONTROL_TOKEN: TOKEN },
      cwd: t.dir,
      username: 'tester',
      signal: stop.signal,
    });
    await waitFor(() => fake.listenerCount() === 1);
    fake.record('worker.detached', 'live 4', { worker: 'web@0' });
    await waitFor(() => stdout.includes('live 4'));
    stop.abort();
    expect(await done).toBe(0);
    const ids = stdout.trim().split('\n').map((l) => Number(l.split(' ')[0]));
    expect(ids).toEqual([2, 3, 4]);
    expect(stdout).toContain('4  2030-01-02 03:04:08  supervisor  worker.detached  web@0  live 4');
    await waitFor(() => fake.listenerCount() === 0);
  });
});

describe('stop and export', () => {
  it('stop --keep-workers asks for a stop that keeps the workers and waits until the supervisor is gone', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    const run = cli(['stop', '--keep-workers']);
    await waitFor(() => fake.stopRequested !== null);
    expect(fake.stopRequested).toEqual({ keepWorkers: true, actor: 'cli:tester' });
    await t.server.close(); // what the real supervisor does after answering
    const { code, stdout } = await run;
    expect(code).toBe(0);
    expect(stdout).toContain('2 workers keep running: web@0, web@1');
    expect(stdout).toContain('`handover start` re-adopts the workers');
  });

  it('stop without flags stops everything', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    const run = cli(['stop']);
    await waitFor(() => fake.stopRequested !== null);
    expect(fake.stopRequested?.keepWorkers).toBe(false);
    await t.server.close();
    expect((await run).stdout).toMatch(/and its 2 workers…\nstopped\n$/);
  });

  it('events --export writes the whole log as JSON lines, paging through it', async () => {
    await using t = await cliTest();
    const { fake, cli } = t;
    for (let i = 0; i < 1500; i++) fake.record('action', `event ${i}`);
    const { code, stdout } = await cli(['events', '--export', 'events.jsonl']);
    expect(code).toBe(0);
    expect(stdout).toContain('exported 1500 events');
    const lines = (await readFile(path.join(t.dir, 'events.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1500);
    expect(JSON.parse(lines[1499]!)).toMatchObject({ id: 1500, type: 'action', message: 'event 1499' });
    expect((await cli(['events', '--export', 'x', '--follow'])).code).toBe(2);
  });
});

describe('finding the supervisor', () => {
  it('says nobody answers when the port is closed', async () => {
    await using t = await cliTest();
    const { cli } = t;
    const port = await closedPort();
    await writeConfig(t.configPath, port, path.join(t.dir, 'data'));
    const run = await cli(['status']);
    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr: `handover: no supervisor is answering on http://127.0.0.1:${port} — start it with \`npx handover start\`\n`,
    });
  });

  it('says when the token is wrong', async () => {
    await using t = await cliTest();
    const { cli } = t;
    const run = await cli(['status'], { env: { HANDOVER_CONTROL_TOKEN: 'another-token-0123456789' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^handover: the supervisor on http:\/\/127\.0\.0\.1:\d+ refused the control token/);
  });

  it('says there is no running supervisor when there is no token', async () => {
    await using t = await cliTest();
    const { cli } = t;
    const run = await cli(['status'], { env: {} });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^handover: no running supervisor found: start it with `npx handover start`, or set HANDOVER_CONTROL_TOKEN/,
    );
  });

  it('shows configuration errors as they are', async () => {
    await using t = await cliTest();
    const { cli } = t;
    const missing = await cli(['status', '--config', 'nope.json']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^handover: Configuration file not found:/);
    await writeFile(t.configPath, '{"control": {"port": "x"}, "pools": []}');
    const invalid = await cli(['status']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('control.port');
  });
});

describe('usage', () => {
  it.each([
    [[], /^Usage: handover <command>/],
    [['frobnicate'], /^handover: unknown command: frobnicate\nusage: handover <command> \[options\]/],
    [['detach'], /^handover: detach: missing argument\nusage: handover detach <worker> \[--sync\]/],
    [['detach', 'a', 'b'], /^handover: detach: unexpected argument: b\n/],
    [['detach', 'WEB'], /^handover: detach: "WEB" is not a worker id \(like web@0\)\n/],
    [['sync', 'Web!'], /^handover: sync: "Web!" is not a pool name\n/],
    [['status', '--sync'], /^handover: status does not take --sync\nusage: handover status \[--json\]/],
    [['logs', 'web@0', '-n', 'abc'], /^handover: -n must be a whole number from 1 to 5000, got "abc"/],
    [['events', '-n', '0'], /^handover: -n must be a whole number from 1 to 1000, got "0"/],
    [['status', '--bogus'], /^handover: Unknown option '--bogus'.*\nusage: handover status/s],
  ])('%j exits 2', async (argv, message) => {
    await using t = await cliTest();
    const { fake, cli } = t;
    const run = await cli(argv as string[]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(fake.calls).toEqual([]);
  });

  it('prints help on stdout', async () => {
    await using t = await cliTest();
    const { cli } = t;
    for (const argv of [['help'], ['--help'], ['-h']]) {
      const run = await cli(argv);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: handover <command> \[options\]\n\nCommands:\n {2}start \[--config FILE\]/);
      expect(run.stdout).toContain('detach <worker> [--sync]');
    }
    const one = await cli(['detach', '--help']);
    expect(one.stdout).toMatch(/^usage: handover detach <worker> \[--sync\] \[--json\]\n/);
    expect((await cli(['help', 'logs'])).stdout).toMatch(/^usage: handover logs <worker> \[-n N\]/);
  });

  it('start calls startSupervisor with the configuration path', async () => {
    await using t = await cliTest();
    const { cli } = t;
    const calls: unknown[] = [];
    const env = { HANDOVER_CONTROL_TOKEN: TOKEN };
    const run = await cli(['start', '--config', 'x/handover.json'], {
      env,
      startSupervisor: async (options) => {
        calls.push(options);
      },
    });
    expect(run.code).toBe(0);
    expect(calls).toEqual([{ configPath: path.join(t.dir, 'x/handover.json'), env }]);
    await cli(['start'], { env, startSupervisor: async (options) => void calls.push(options) });
    expect(calls[1]).toEqual({ configPath: path.join(t.dir, 'handover.config.json'), env });
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('handover node and haproxy-config', () => {
  it('node drain / status / ready act on this node and say what it still holds', async () => {
    await using t = await cliTest();
    const drain = await t.cli(['node', 'drain']);
    expect(drain.code).toBe(0);
    expect(drain.stdout).toMatch(/^node draining: the front sends it no new clients, its own keep coming; it holds \d+ sessions?, /);
    expect(t.fake.events.find((e) => e.type === 'node.draining')).toMatchObject({ actor: 'cli:tester' });
    const status = await t.cli(['node', 'status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ draining: true, accepting: false, drainedBy: 'cli:tester' });
    expect((await t.cli(['node', 'ready'])).stdout).toMatch(/^node ready: takes new clients/);
    const wrong = await t.cli(['node', 'pause']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/"pause" is not drain, ready or status/);
  });

  it('haproxy-config prints a configuration with one server per --node, without a supervisor; bad nodes are usage errors', async () => {
    let stdout = '';
    let stderr = '';
    const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: {}, cwd: '/' } as CliIO;
    const ok = await runCli(['haproxy-config', '--listen', '0.0.0.0:443', '--node', 'a=10.0.0.1:8080@10.0.0.1:8090', '--node', 'b=10.0.0.2:8080'], io);
    expect(ok).toBe(0);
    expect(stdout).toMatch(/^  bind 0\.0\.0\.0:443$/m);
    expect(stdout).toMatch(/^  server a 10\.0\.0\.1:8080 cookie a check addr 10\.0\.0\.1 port 8090$/m);
    expect(stdout).toMatch(/^  server b 10\.0\.0\.2:8080 cookie b /m);
    const bad = await runCli(['haproxy-config', '--listen', '0.0.0.0:443', '--node', 'a=10.0.0.1'], io);
    expect(bad).toBe(2);
    expect(stderr).toMatch(/expected HOST:PORT/);
  });
});
