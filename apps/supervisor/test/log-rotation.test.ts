/**
 * Worker log rotation (issue #5), for real: a real supervisor, a real worker that writes about
 * 250 KB/s through the O_APPEND descriptors it inherited, the real tail timer. The files are
 * sampled every ~10 ms from outside. Every wait is on an event or a poll with a deadline.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type HandoverConfig, loadConfig } from '@handover/config';
import type { HandoverEvent, WorkerInfo } from '@handover/process-table';
import { runCli } from '../src/cli/run';
import { checkProcess, processStartTime } from '../src/proc-identity';
import { copyTruncate } from '../src/log-rotation';
import { type RunningSupervisor, launchSupervisor } from '../src/launch';
import { type AsyncResource, asyncResource, disposer, tempDir } from '../../../test-support/resources';
import { FIXTURES, TestSupervisor, isProcessAlive, randomBasePort, waitFor } from './harness';

const CHATTY = join(FIXTURES, 'chatty-app.mjs');
const TOKEN = 'test-token-0123456789abcdef';
const MAX_BYTES = 128 * 1024;
/** The fixture's defaults: 20 lines of 100 bytes every 10 ms on stdout (200 KB/s), 5 on stderr. */
const BATCH = 20;
const OUT_RATE = (BATCH * 100) / 0.01;
/** LogTail's default interval: the rotation check runs on it. */
const CHECK_INTERVAL_MS = 250;
/**
 * What the worker writes in one check interval, plus half an interval for timers that fire late
 * on a loaded 2-core machine (the check runs on a timer, not per line).
 */
const SLACK = OUT_RATE * (CHECK_INTERVAL_MS / 1000) * 1.5;

/** Oldest first: `<file>.N` … `<file>.1`, then the live file (those that exist). */
function logSet(path: string): string[] {
  const rotated: string[] = [];
  for (let n = 1; existsSync(`${path}.${n}`); n++) rotated.unshift(`${path}.${n}`);
  return [...rotated, path];
}

/** Sequence numbers of the fixture's `out`/`err` lines, in file order. */
function seqs(text: string, kind: 'out' | 'err'): number[] {
  const found: number[] = [];
  for (const match of text.matchAll(new RegExp(`^${kind} (\\d{8}) `, 'gm'))) found.push(Number(match[1]));
  return found;
}

/** Strictly increasing (no line twice, none out of order); returns the gaps as [from, count]. */
function gapsOf(list: number[]): Array<[number, number]> {
  const gaps: Array<[number, number]> = [];
  for (let i = 1; i < list.length; i++) {
    expect(list[i]!, `line ${list[i]} after ${list[i - 1]}: duplicated or out of order`).toBeGreaterThan(list[i - 1]!);
    if (list[i]! > list[i - 1]! + 1) gaps.push([list[i - 1]! + 1, list[i]! - list[i - 1]! - 1]);
  }
  return gaps;
}

interface Sampler {
  max: Map<string, number>;
  /** Per file: how long each stretch over the limit lasted (ms), i.e. detection + rotation. */
  over: Map<string, number[]>;
  stop(): void;
}

/** Looks at the files' sizes every ~10 ms (from the test's side; the supervisor does not know). */
function sampleSizes(paths: string[], limit: number): AsyncResource<Sampler> {
  const max = new Map(paths.map((p) => [p, 0]));
  const over = new Map<string, number[]>(paths.map((p) => [p, []]));
  const overSince = new Map<string, number>();
  const timer = setInterval(() => {
    const now = performance.now();
    for (const path of paths) {
      let size: number;
      try {
        size = statSync(path).size;
      } catch {
        continue;
      }
      max.set(path, Math.max(max.get(path)!, size));
      if (size > limit && !overSince.has(path)) overSince.set(path, now);
      if (size <= limit && overSince.has(path)) {
        over.get(path)!.push(now - overSince.get(path)!);
        overSince.delete(path);
      }
    }
  }, 10);
  return asyncResource({ max, over, stop: () => clearInterval(timer) }, () => clearInterval(timer));
}

function median(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!;
}

async function get(port: number, path: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  expect(res.status).toBe(200);
  return res.json();
}

describe('worker log rotation (copy-truncate on the tail timer)', () => {
  it('keeps a chatty worker’s log under logs.maxBytes, with every earlier line in the rotated files in order, and the log view intact', async () => {
    const TOTAL = 12_000; // 1.2 MB on stdout, 0.3 MB on stderr
    await using harness = await TestSupervisor.launch({
      command: `node ${JSON.stringify(CHATTY)}`,
      sessionCookie: 'sid',
      logLines: 100_000,
      logs: { maxBytes: MAX_BYTES, keep: 50 },
      env: { CHATTY_LINES: String(TOTAL) },
    });
    const logs = join(harness.dir, 'data', 'logs');
    const out = join(logs, 'web@0.out.log');
    const err = join(logs, 'web@0.err.log');
    await using sampler = sampleSizes([out, err], MAX_BYTES);
    const worker = await waitFor(() => harness.supervisor.listWorkers().find((w) => w.id === 'web@0' && w.state === 'started'), 20_000, 'web@0 started');
    const inode = statSync(out).ino;

    // The console's log view (supervisor.logs) shows the worker's newest line as it comes.
    const lastOut = (lines = 100_000) => harness.supervisor.logs('web@0', lines).filter((l) => l.stream === 'stdout').at(-1)?.text;
    await waitFor(() => lastOut() === `chatty: done ${TOTAL}`, 30_000, 'the last line in the log view');
    // The worker writes nothing more. The tail reads stdout, then stderr, then rotates, in one
    // tick: when "done" shows, the stderr half of that tick (and a rotation) may still be under
    // way (a Node 24 CI run compared too early and missed the last 75 stderr lines). Wait until
    // the files have settled and the view holds exactly their lines.
    const viewSeqs = (stream: 'stdout' | 'stderr', kind: 'out' | 'err') =>
      seqs(harness.supervisor.logs('web@0', 100_000).filter((l) => l.stream === stream).map((l) => `${l.text}\n`).join(''), kind);
    const fileSeqsOf = (path: string, kind: 'out' | 'err') => seqs(logSet(path).map((f) => readFileSync(f, 'utf8')).join(''), kind);
    const same = (a: number[], b: number[]) => a.length === b.length && a.every((n, i) => n === b[i]);
    await waitFor(
      () =>
        [out, err].every((f) => !existsSync(`${f}.rotating`) && statSync(f).size <= MAX_BYTES) &&
        same(viewSeqs('stdout', 'out'), fileSeqsOf(out, 'out')) &&
        same(viewSeqs('stderr', 'err'), fileSeqsOf(err, 'err')),
      10_000,
      'the last rotation to end and the log view to hold exactly the lines of the files',
    );
    sampler.stop();

    // Rotated, and never far over the limit: at most one check interval of output over it.
    const outFiles = logSet(out);
    const errFiles = logSet(err);
    const rotations = outFiles.length - 1;
    expect(rotations, 'stdout rotations').toBeGreaterThanOrEqual(Math.floor((TOTAL * 100) / (MAX_BYTES + SLACK)));
    expect(errFiles.length - 1, 'stderr rotations').toBeGreaterThanOrEqual(1);
    expect(sampler.max.get(out)!).toBeLessThanOrEqual(MAX_BYTES + SLACK);
    expect(sampler.max.get(err)!).toBeLessThanOrEqual(MAX_BYTES + SLACK);
    for (const file of [...outFiles, ...errFiles]) expect(statSync(file).size, file).toBeLessThanOrEqual(MAX_BYTES + SLACK);
    // Copy-truncate: the live file is the same inode the worker was given; the copies are new ones.
    expect(statSync(out).ino).toBe(inode);
    expect(statSync(`${out}.1`).ino).not.toBe(inode);
    expect(existsSync(`${out}.rotating`)).toBe(false);

    // The rotated files, oldest first, then the live one: every line once, in order. The only
    // loss allowed is the copytruncate window: a whole write (one batch) landing between the
    // last fstat and the ftruncate, at most once per rotation.
    const fileText = outFiles.map((f) => readFileSync(f, 'utf8')).join('');
    const fileSeqs = seqs(fileText, 'out');
    expect(fileSeqs[0]).toBe(0);
    expect(fileSeqs.at(-1)).toBe(TOTAL - 1);
    const gaps = gapsOf(fileSeqs);
    expect(gaps.length).toBeLessThanOrEqual(rotations);
    for (const [from, count] of gaps) expect([from % BATCH, count % BATCH]).toEqual([0, 0]);
    const errSeqs = seqs(errFiles.map((f) => readFileSync(f, 'utf8')).join(''), 'err');
    expect(errSeqs[0]).toBe(0);
    expect(gapsOf(errSeqs).length).toBeLessThanOrEqual(errFiles.length - 1);

    // The log view went through the same truncations: exactly the lines of the files, no more, no fewer.
    expect(viewSeqs('stdout', 'out')).toEqual(fileSeqs);
    expect(viewSeqs('stderr', 'err')).toEqual(errSeqs);

    // The CLI shows the newest lines too (`handover logs`, through the control API).
    let cliOut = '';
    const code = await runCli(['logs', 'web@0', '-n', '1000', '--json'], {
      stdout: { write: (s: string) => (cliOut += s) },
      stderr: { write: () => undefined },
      env: { HANDOVER_CONTROL_TOKEN: TOKEN, HANDOVER_CONTROL_PORT: String(harness.running.control.port) },
      cwd: harness.dir,
      username: 'tester',
    });
    expect(code).toBe(0);
    expect((JSON.parse(cliOut) as Array<{ stream: string; text: string }>).filter((l) => l.stream === 'stdout').at(-1)?.text).toBe(`chatty: done ${TOTAL}`);

    // After all those rotations the worker still writes to the live file, at its (new) start: no hole.
    await get(worker.port, '/write?n=3&tag=after-rotation');
    await waitFor(() => lastOut() === 'tag after-rotation 2 web@0', 10_000, 'the new lines in the log view');
    const live = readFileSync(out, 'utf8');
    expect(live).toContain('tag after-rotation 2 web@0\n');
    expect(live.includes('\0')).toBe(false);
    expect(live.length).toBeLessThanOrEqual(MAX_BYTES + SLACK);

    const overMs = sampler.over.get(out)!;
    console.log(
      `[log-rotation] stdout: ${rotations} rotations of ${TOTAL * 100} bytes, live file max ${sampler.max.get(out)} bytes ` +
        `(limit ${MAX_BYTES}, allowed ${MAX_BYTES + SLACK}); time over the limit per rotation: median ${median(overMs).toFixed(0)} ms, ` +
        `max ${Math.max(...overMs).toFixed(0)} ms (n=${overMs.length}); lines lost in the copytruncate window: ` +
        `${gaps.reduce((sum, [, count]) => sum + count, 0)}; stderr: ${errFiles.length - 1} rotations, max ${sampler.max.get(err)} bytes`,
    );
  });

  it('goes on across a supervisor restart (the worker keeps its descriptor), keeps at most logs.keep copies, and deletes an ended worker’s logs', async () => {
    await using tmp = await tempDir('handover-rotation-');
    const dir = tmp.path;
    const configPath = join(dir, 'handover.config.json');
    await writeFile(
      configPath,
      JSON.stringify({
        dataDir: join(dir, 'data'),
        pools: [
          {
            name: 'web',
            command: `node ${JSON.stringify(CHATTY)}`,
            basePort: randomBasePort(),
            sessionCookie: 'sid',
            healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 50 },
            stop: { graceSeconds: 5 },
            logs: { maxBytes: MAX_BYTES, keep: 2 },
            // The worker writes ~2,500 lines a second: room for the lines the test looks for.
            logLines: 100_000,
          },
        ],
      }),
    );
    const env = { ...process.env, HANDOVER_CONTROL_TOKEN: TOKEN };
    // pid → start time: a pid alone may name another test's process by the cleanup (pids are reused fast).
    const workerPids = new Map<number, string | null>();
    /** A supervisor on the config; stopped on dispose. */
    const launch = async (): Promise<AsyncResource<{ running: RunningSupervisor; events: HandoverEvent[] }>> => {
      const load = async (): Promise<HandoverConfig> => {
        const config = await loadConfig({ path: configPath, env });
        config.proxy.port = 0;
        config.control.port = 0;
        return config;
      };
      const running = await launchSupervisor(await load(), { env, reloadConfig: load });
      const events = running.supervisor.listEvents({ limit: 1000 });
      running.supervisor.onEvent((event) => events.push(event));
      return asyncResource({ running, events }, () => running.stop(2_000));
    };
    // Whatever happens, no worker of ours is left behind (once the supervisors are stopped).
    await using _workers = disposer(() => {
      for (const [pid, startTime] of workerPids) if (checkProcess({ pid, startTime }) === 'alive') process.kill(-pid, 'SIGKILL');
    });
    const started = async (running: RunningSupervisor, id: string): Promise<WorkerInfo> => {
      const found = await waitFor(() => running.supervisor.listWorkers().find((w) => w.id === id && w.state === 'started'), 20_000, `${id} started`);
      if (found.pid !== null && !workerPids.has(found.pid)) workerPids.set(found.pid, processStartTime(found.pid));
      return found;
    };
    const out = join(dir, 'data', 'logs', 'web@0.out.log');

    // Supervisor A rotates web@0's log.
    await using a = await launch();
    const worker = await started(a.running, 'web@0');
    const inode = statSync(out).ino;
    await waitFor(() => existsSync(`${out}.2`), 20_000, 'two rotations');
    await a.running.stop(2_000, { keepWorkers: true });

    // No supervisor: nobody rotates, the worker goes on writing.
    await waitFor(() => statSync(out).size > 2 * MAX_BYTES + 64 * 1024, 20_000, 'the log to grow past twice the limit');
    expect(isProcessAlive(worker.pid!)).toBe(true);

    // Supervisor B re-adopts web@0 and rotates its log again; what grew unwatched past twice the
    // limit is cut to the last maxBytes, saying so.
    await using b = await launch();
    await waitFor(() => b.events.find((e) => e.type === 'worker.adopted' && e.worker === 'web@0'), 20_000, 'web@0 re-adopted');
    const noted = await waitFor(
      () => [`${out}.1`, `${out}.2`].map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : '')).find((t) => t.startsWith('[handover: ')),
      20_000,
      'the rotated file with the drop note',
    );
    expect(noted).toMatch(/^\[handover: \d+ earlier bytes of this log were dropped: it grew past twice logs\.maxBytes while no supervisor rotated it\]\n/);
    expect(noted.length).toBeLessThanOrEqual(MAX_BYTES + SLACK + 200);
    // Two rotations more under B: the files are back under the limit, in order, at most `keep` copies.
    await using sampler = sampleSizes([out], MAX_BYTES);
    const firstUnderB = seqs(readFileSync(`${out}.1`, 'utf8'), 'out').at(-1)!;
    await waitFor(() => seqs(readFileSync(`${out}.2`, 'utf8'), 'out')[0]! > firstUnderB, 20_000, 'two more rotations');
    sampler.stop();
    expect(sampler.max.get(out)!).toBeLessThanOrEqual(MAX_BYTES + SLACK);
    const files = logSet(out);
    expect(files).toEqual([`${out}.2`, `${out}.1`, out]);
    expect(existsSync(`${out}.3`)).toBe(false);
    const ordered = seqs(files.map((f) => readFileSync(f, 'utf8')).join(''), 'out');
    expect(gapsOf(ordered).length).toBeLessThanOrEqual(2);

    // Same process, same descriptor, same live file: it writes on at the start of the emptied file.
    expect(b.running.supervisor.listWorkers().find((w) => w.id === 'web@0')?.pid).toBe(worker.pid);
    expect(statSync(out).ino).toBe(inode);
    await get(worker.port, '/write?n=2&tag=after-restart');
    await waitFor(() => b.running.supervisor.logs('web@0', 100_000).some((l) => l.text === 'tag after-restart 1 web@0'), 10_000, 'the new lines in the log view');
    await waitFor(() => readFileSync(out, 'utf8').includes('tag after-restart 1 web@0\n'), 10_000, 'the new lines in the live file');
    expect(readFileSync(out, 'utf8').includes('\0')).toBe(false);

    // B stops everything: web@0 ends with its files within `keep`.
    await b.running.stop(5_000);
    expect(isProcessAlive(worker.pid!)).toBe(false);
    const left = (): string[] => readdirSync(join(dir, 'data', 'logs')).filter((name) => name.startsWith('web@0.')).sort();
    const allowed = ['web@0.err.log', 'web@0.err.log.1', 'web@0.err.log.2', 'web@0.out.log', 'web@0.out.log.1', 'web@0.out.log.2'];
    expect(left().filter((name) => !allowed.includes(name))).toEqual([]);
    expect(left()).toEqual(expect.arrayContaining(['web@0.out.log', 'web@0.out.log.1', 'web@0.out.log.2']));

    // The next supervisor forgets the ended worker and deletes its logs, rotated copies included.
    await using c = await launch();
    await started(c.running, 'web@1');
    expect(left()).toEqual([]);
    await c.running.stop(5_000);
  });

  it('copyTruncate of a default-sized (10 MiB) log while the worker writes: nothing lost or repeated, and how long it takes', async () => {
    await using tmp = await tempDir('handover-copytruncate-');
    const dir = tmp.path;
    const path = join(dir, 'w.out.log');
    const tenMiB = 10 * 1024 * 1024;
    // 10 MiB of earlier lines, then a live writer appending through its own O_APPEND descriptor.
    let earlier = '';
    for (let i = 0; earlier.length < tenMiB; i++) earlier += `old ${String(i).padStart(8, '0')} ${'y'.repeat(86)}\n`;
    writeFileSync(path, earlier, { mode: 0o600 });
    const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND);
    const errFd = openSync(join(dir, 'w.err.log'), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
    const child = spawn(process.execPath, [CHATTY], {
      stdio: ['ignore', fd, errFd],
      env: { ...process.env, PORT: '0', CHATTY_TICK_MS: '1', HANDOVER_WORKER: 'w@0' },
    });
    closeSync(fd);
    closeSync(errFd);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await using _child = disposer(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    await waitFor(() => statSync(path).size > tenMiB + 100_000, 10_000, 'the writer to append');

    const result = await copyTruncate(path, { maxBytes: tenMiB, keep: 3 });
    await waitFor(() => seqs(readFileSync(path, 'utf8'), 'out').length > 1000, 10_000, 'the writer to go on after the truncation');
    child.kill('SIGTERM');
    await exited;

    const rotated = readFileSync(`${path}.1`, 'utf8');
    const live = readFileSync(path, 'utf8');
    expect(result.dropped).toBe(0);
    expect(result.bytes).toBe(Buffer.byteLength(rotated));
    expect(rotated.startsWith(earlier)).toBe(true);
    expect(live.includes('\0')).toBe(false);
    const all = seqs(rotated + live, 'out');
    expect(all[0]).toBe(0);
    const lost = gapsOf(all).reduce((sum, [, count]) => sum + count, 0);
    expect(lost).toBeLessThanOrEqual(BATCH);
    console.log(
      `[log-rotation] copyTruncate of ${result.bytes} bytes with a writer at ~2 MB/s: ${result.ms.toFixed(1)} ms; ` +
        `copytruncate window (fstat → ftruncate) ${result.windowMicros} µs; lines lost: ${lost}`,
    );
  });
});
