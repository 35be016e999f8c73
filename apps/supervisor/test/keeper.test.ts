import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '@handover/config';
import { spawnHandover } from '../../../test-support/handover';
import { freePort, retryOnAddressInUse } from '../../../test-support/ports';
import { RestartBackoff, inheritedSockets, keptAddresses } from '../src/keeper';
import { randomBasePort } from './harness';
import { Installation, count, login, postOnNewConnection, report, running } from './installation';
import { waitFor } from './wait';

/** More deaths in a row than the keeper used to allow (5 within 60 s, then it gave up). */
const DEATHS = 7;

describe('keeper: what it hands to the supervisor', () => {
  it('parses HANDOVER_INHERITED_SOCKETS, skipping anything that is not host:port=fd with fd > 2', () => {
    const sockets = inheritedSockets({ HANDOVER_INHERITED_SOCKETS: '127.0.0.1:8080=4,::1:8081=5,bad,x=1,y=abc,=6' });
    expect([...sockets]).toEqual([
      ['127.0.0.1:8080', 4],
      ['::1:8081', 5],
    ]);
    expect(inheritedSockets({}).size).toBe(0);
    expect(inheritedSockets({ HANDOVER_INHERITED_SOCKETS: '' }).size).toBe(0);
  });

  it('holds the public port of every pool (the first pool on proxy.port) and the control port, never port 0', () => {
    const config = parseConfig(
      {
        proxy: { port: 8080, host: '0.0.0.0' },
        pools: [
          { name: 'web', command: 'x', basePort: 9000, sessionCookie: 'a' },
          { name: 'api', command: 'y', basePort: 9100, sessionCookie: 'b', proxyPort: 8081 },
        ],
      },
      { configPath: '/srv/handover.config.json', env: {} },
    );
    expect(keptAddresses(config)).toEqual([
      { host: '0.0.0.0', port: 8080 },
      { host: '0.0.0.0', port: 8081 },
      { host: '127.0.0.1', port: 8090 },
    ]);
    const zero = { ...config, proxy: { ...config.proxy, port: 0 }, control: { ...config.control, port: 0 }, pools: [config.pools[0]!] };
    expect(keptAddresses(zero)).toEqual([]);
  });

  it('a proxy port another program holds: `handover start` exits 1 saying what to do, and keeps no port', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      // Again on another control port if someone else takes it before the last check binds it.
      await retryOnAddressInUse(async () => {
        const controlPort = await freePort();
        const dir = await mkdtemp(join(tmpdir(), 'handover-keeper-'));
        try {
          const configPath = join(dir, 'handover.config.json');
          const marker = join(dir, 'worker-ran');
          await writeFile(
            configPath,
            JSON.stringify({
              proxy: { port },
              control: { port: controlPort },
              dataDir: join(dir, 'data'),
              pools: [{ name: 'web', command: `touch ${marker}`, basePort: randomBasePort(), sessionCookie: 'a' }],
            }),
          );
          const run = spawnHandover(['start'], { configPath, keeper: true, env: { HANDOVER_CONTROL_TOKEN: 'keeper-test-token-0123456789abcdef' } });
          expect(await run.exited).toBe(1);
          expect(run.output).toMatch(new RegExp(`cannot bind 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\): another program uses that port`));
          // Refused by the keeper itself: no supervisor ran, so none could sit on a random port.
          expect(run.output).not.toMatch(/Handover is running/);
          expect(existsSync(marker)).toBe(false);
          // The control port the keeper held is free again.
          const again = createServer();
          await new Promise<void>((resolve, reject) => again.once('error', reject).listen(controlPort, '127.0.0.1', resolve));
          await new Promise<void>((resolve) => again.close(() => resolve()));
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  }, 60_000);
});

describe('keeper: the wait before each restart', () => {
  it('0.1 s doubling up to 30 s, and back to 0.1 s after a supervisor that was up for a minute', () => {
    const backoff = new RestartBackoff();
    const quick = Array.from({ length: 12 }, () => backoff.next(1_000));
    expect(quick.map((n) => n.delayMs)).toEqual([100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000, 30_000]);
    expect(quick.map((n) => n.restartsInRow)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // Ready for 59.9 s is not yet healthy; a full minute is.
    expect(backoff.next(59_900)).toEqual({ delayMs: 30_000, restartsInRow: 13 });
    expect(backoff.next(60_000)).toEqual({ delayMs: 100, restartsInRow: 1 });
    expect(backoff.next(0)).toEqual({ delayMs: 200, restartsInRow: 2 });
  });
});

describe('the keeper never gives up on a supervisor that keeps dying', () => {

  it('7 deaths in a row (the old limit was 5): the port keeps answering on the same worker, the crash loop is told; SIGTERM during a back-off stops everything', async () => {
    await using install = await Installation.create();
    const { run: keeper } = await install.start(true);
    const alice = await login(install);
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 1 });
    const web0 = await install.worker('web@0');
    const killed = new Set<number>();
    const began = Date.now();
    for (let death = 1; death <= DEATHS; death++) {
      const pid = await install.nextSupervisor(keeper, killed);
      killed.add(pid);
      process.kill(pid, 'SIGKILL');
      await waitFor(() => !running(pid), 10_000, `supervisor ${pid} to die`);
    }
    // Sent while the keeper waits out its back-off (6.4 s after the 7th death): it waits in the
    // kernel's queue and is answered by the next supervisor, on the same worker.
    const cookie = [...alice.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const during = await postOnNewConnection(install.proxyPort, '/api/count', cookie);
    expect(during.status, `${during.body}\n${keeper.output}`).toBe(200);
    expect(JSON.parse(during.body)).toMatchObject({ worker: 'web@0', session: { counter: 2 } });
    const loopMs = Date.now() - began;
    expect(keeper.child.exitCode).toBeNull();
    expect((await install.worker('web@0')).pid).toBe(web0.pid);
    expect((await install.pool()).sessionsLost).toBe(0);

    // Said loudly: a keeper line per death, and events for the console and `handover events`.
    expect(keeper.output.match(/handover keeper: the supervisor \(pid \d+\) died \(SIGKILL\)/g)).toHaveLength(DEATHS);
    expect(keeper.output).toMatch(/restart 7 in a row.*crash loop/);
    const events = await install.events();
    const started = events.findLast((e) => e.type === 'supervisor.started')!;
    expect(started.message, keeper.output).toMatch(/by the keeper: the previous supervisor \(pid \d+\) died \(SIGKILL\); restart 7 in a row/);
    const loop = events.findLast((e) => e.type === 'supervisor.crashLoop')!;
    expect(loop).toBeDefined();
    expect(loop.data).toMatchObject({ restartsInRow: 7, lastCause: 'SIGKILL', delayMs: 6_400, maxDelayMs: 30_000 });
    expect(events.filter((e) => e.type === 'supervisor.crashLoop').map((e) => e.data!.restartsInRow)).toEqual([3, 4, 5, 6, 7]);

    // An 8th death starts a 12.8 s back-off; SIGTERM in it stops everything at once.
    const last = await install.nextSupervisor(keeper, killed);
    killed.add(last);
    process.kill(last, 'SIGKILL');
    await waitFor(() => /starting a new one in 12800 ms/.test(keeper.output), 10_000, 'the 12.8 s back-off');
    const termAt = Date.now();
    keeper.child.kill('SIGTERM');
    expect(await keeper.exited).toBe(0);
    const stopMs = Date.now() - termAt;
    expect(stopMs).toBeLessThan(12_800);
    await waitFor(() => !running(web0.pid!), 10_000, 'web@0 to exit');
    expect(install.storedWorkers().find((w) => w.id === 'web@0')?.state).toBe('stopped');
    // No process left: every supervisor that ever ran (the first, one after each of the 8 deaths
    // but the last, and the one started in the back-off to stop the workers).
    const supervisors = install.supervisorPids();
    expect(supervisors).toHaveLength(1 + DEATHS + 1);
    expect(supervisors.filter(running)).toEqual([]);
    expect(killed.size).toBe(DEATHS + 1);
    const answeredBy = (JSON.parse(during.body) as { worker: string }).worker;
    report('keeper never gives up', {
      deaths: killed.size,
      loopMs,
      requestDuringBackoff: `${during.status}, answered by ${answeredBy}`,
      stopDuringBackoffMs: stopMs,
    });
  }, 180_000);

  it('a restarted supervisor that cannot start (the config broke meanwhile) is retried, not given up on: the workers are re-adopted once it is fixed', async () => {
    await using install = await Installation.create();
    const { run: keeper } = await install.start(true);
    const alice = await login(install);
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 1 });
    const web0 = await install.worker('web@0');
    const good = await readFile(install.configPath, 'utf8');
    // Someone edits the file badly; the running supervisor has not re-read it, the next one will.
    await writeFile(install.configPath, good.replace('"sessionCookie":"demo.sid"', '"sessionCookie":"not a cookie"'));
    const first = await install.supervisorPid();
    process.kill(first, 'SIGKILL');
    // Before the fix the keeper exited with the failed start's code here, leaving web@0 unsupervised.
    const failedRestarts = () => (keeper.output.match(/died \(exit code 1\) before it was ready/g) ?? []).length;
    await waitFor(() => failedRestarts() >= 2 || keeper.child.exitCode !== null, 30_000, 'two failed restarts');
    expect(keeper.output).toMatch(/pools\[0\]\.sessionCookie/);
    expect(keeper.child.exitCode).toBeNull();
    expect(running(web0.pid!)).toBe(true);

    await writeFile(install.configPath, good);
    await install.nextSupervisor(keeper, new Set([first]));
    expect(await count(alice)).toEqual({ worker: 'web@0', counter: 2 });
    expect((await install.worker('web@0')).pid).toBe(web0.pid);
    keeper.child.kill('SIGTERM');
    expect(await keeper.exited).toBe(0);
    await waitFor(() => !running(web0.pid!), 10_000, 'web@0 to exit');
  }, 120_000);

  it('`handover stop` during a back-off stops the workers too (answered by the next supervisor)', async () => {
    await using install = await Installation.create();
    const { run: keeper } = await install.start(true);
    const web0 = await install.worker('web@0');
    const killed = new Set<number>();
    for (let death = 1; death <= 5; death++) {
      const pid = await install.nextSupervisor(keeper, killed);
      killed.add(pid);
      process.kill(pid, 'SIGKILL');
      await waitFor(() => !running(pid), 10_000, `supervisor ${pid} to die`);
    }
    await waitFor(() => /starting a new one in 1600 ms/.test(keeper.output), 10_000, 'the 1.6 s back-off');
    const stop = install.cli(['stop']);
    expect(await stop.exited, stop.output).toBe(0);
    expect(await keeper.exited).toBe(0);
    await waitFor(() => !running(web0.pid!), 10_000, 'web@0 to exit');
    expect(install.storedWorkers().find((w) => w.id === 'web@0')?.state).toBe('stopped');
  }, 120_000);
});
