/**
 * What an open WebSocket through Handover's proxy costs: `npm run bench:websockets -w
 * @handover/bench [-- --sockets 5000 --step 1000 --rounds 5]`.
 *
 * The real `handover start` (no keeper, so the child's pid is the supervisor) in front of one
 * demo worker (apps/demo, its `/ws` echo). One `POST /api/login` through the proxy gives a
 * session; every WebSocket is opened on `/ws` with that session's cookies (the demo refuses a
 * WebSocket without a session), so the supervisor's growth is the tunnels' alone, not sessions'
 * (a session costs its own ~150 B in the table, BENCHMARKS.md §2).
 *
 * - Opens the sockets `--step` at a time (at most `--parallel` handshakes in flight); after each
 *   step (0, step, 2·step, …, N) waits until the supervisor's RSS settles (read every 100 ms,
 *   settled when a second of readings spans ≤ 64 KiB, at most 5 s) and reads the supervisor's and
 *   the worker's VmRSS and the supervisor's open fds; then has both run a full GC (see
 *   `gcOnSignal`) and reads RSS and V8's heap again. Bytes per WebSocket = least-squares slope.
 * - `--rounds` times: one small message on every socket, waits for every echo (checked: the
 *   demo answers "<worker>: <message>"); supervisor CPU (user + sys from /proc) before/after.
 * - Closes them all (client close frames, the demo answers and ends), waits until the
 *   supervisor's fds are back, reads again; opens N again and closes them (is what RSS kept
 *   reused, or does it grow?), reading after each.
 * - Stops Handover (SIGTERM, the worker with it) and removes the temp directory; a watchdog
 *   (`--timeout`, default 150 s) stops everything and exits 1 if a phase hangs. Loopback only.
 *
 * The proxy's per-address limit (`maxConnectionsPerClient`, default 1,000) would refuse the
 * 1,001st socket from 127.0.0.1, so the config sets it to 0 (as docs/production.md says to
 * behind a TLS terminator). Each tunnel holds 2 fds in the supervisor, 1 in the worker and 1
 * here: N is bounded by this shell's `ulimit -n` (checked before the start).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { type HandoverRun, REPO_ROOT, handoverConfig, startHandover, stopHandover } from '../../test-support/handover';
import { waitUntilReady } from '../../test-support/ports';
import { cpuSplitMicros, processTree, rssBytes } from '../proxy/proc';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : (args[i + 1] as string);
};
const SOCKETS = Number(arg('sockets', '5000'));
const STEP = Number(arg('step', '1000'));
const PARALLEL = Number(arg('parallel', '100'));
const ROUNDS = Number(arg('rounds', '5'));
const TIMEOUT_S = Number(arg('timeout', '150'));
for (const [name, value] of Object.entries({ sockets: SOCKETS, step: STEP, parallel: PARALLEL, rounds: ROUNDS, timeout: TIMEOUT_S })) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer (got ${value})`);
}

const DEMO = join(REPO_ROOT, 'apps/demo/server.mjs');
const KiB = 1024;
const MiB = 1024 * 1024;
const CONTROL_TOKEN = 'bench-token-0123456789abcdef';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The fd limit every process here inherits: N sockets need N here, 2N in the supervisor. */
function checkFdLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? Infinity);
  const needed = 2 * SOCKETS + 200;
  if (soft < needed) {
    throw new Error(`ulimit -n is ${soft}; ${SOCKETS} WebSockets need ≥ ${needed} fds in the supervisor (2 per tunnel). Raise it (ulimit -n <hard>) or lower --sockets.`);
  }
  return soft;
}

/** Which build the supervisor runs ("compiled" or "source"), as its own `supervisor.started` event says. */
async function runtimeOf(controlPort: number, token: string): Promise<string> {
  const input = encodeURIComponent(JSON.stringify({ type: 'supervisor.started', limit: 1 }));
  const res = await fetch(`http://127.0.0.1:${controlPort}/trpc/events.list?input=${input}`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { result?: { data?: Array<{ data?: { runtime?: string } }> } };
  return body.result?.data?.at(-1)?.data?.runtime ?? `unknown (control API answered ${res.status})`;
}

/**
 * Node flags for the supervisor and the worker: on SIGUSR2 (neither uses it) a full GC, then
 * `process.memoryUsage()` written to `<dir>/gc-<pid>.json`; so a reading can also say what is
 * still retained, not only what the heap has not collected yet. Quoted for the worker's shell
 * command; the quotes are dropped for the supervisor's argv.
 */
function gcOnSignal(dir: string): string[] {
  const preload = `import{writeFileSync}from"node:fs";process.on("SIGUSR2",()=>{globalThis.gc();writeFileSync(${JSON.stringify(dir)}+"/gc-"+process.pid+".json",JSON.stringify(process.memoryUsage()))})`;
  return ['--expose-gc', `'--import=data:text/javascript,${preload}'`];
}

interface GcReading {
  rss: number;
  /** V8 heap in use after the GC. */
  heapUsed: number;
  /** V8 heap committed (what V8 keeps of the OS's memory). */
  heapTotal: number;
  /** Memory outside the heap that V8 knows of (Buffers' backing stores included). */
  external: number;
}

/** A full GC in the process (SIGUSR2, see gcOnSignal), its heap figures, then its settled RSS. */
async function afterGc(dir: string, pid: number): Promise<GcReading> {
  const file = join(dir, `gc-${pid}.json`);
  await rm(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  let usage: NodeJS.MemoryUsage | undefined;
  await until(() => {
    try {
      usage = JSON.parse(readFileSync(file, 'utf8')) as NodeJS.MemoryUsage;
      return true;
    } catch {
      return false; // not there yet, or half written
    }
  }, 10_000, `the GC report of ${pid}`);
  return { rss: (await settledRss(pid, 3000)).rss, heapUsed: usage!.heapUsed, heapTotal: usage!.heapTotal, external: usage!.external };
}

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** The demo worker under the supervisor (`exec node …server.mjs`, so no shell in between). */
function workerPid(supervisorPid: number): number | undefined {
  for (const pid of processTree(supervisorPid).slice(1)) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes('apps/demo/server.mjs') && !cmdline.startsWith('sh')) return pid;
    } catch {
      // gone
    }
  }
  return undefined;
}

/**
 * Reads the RSS every 100 ms until the last second of readings spans ≤ 64 KiB (settled), or
 * `maxMs` passes (not settled: the last reading, flagged). No GC is forced: what an operator sees.
 */
async function settledRss(pid: number, maxMs = 5000): Promise<{ rss: number; ms: number; settled: boolean }> {
  const began = Date.now();
  const window: number[] = [];
  for (;;) {
    window.push(rssBytes([pid]));
    if (window.length > 11) window.shift();
    if (window.length === 11 && Math.max(...window) - Math.min(...window) <= 64 * KiB) {
      return { rss: window.at(-1)!, ms: Date.now() - began, settled: true };
    }
    if (Date.now() - began >= maxMs) return { rss: window.at(-1)!, ms: Date.now() - began, settled: false };
    await sleep(100);
  }
}

/** Polls `done()` every 20 ms until it holds or `ms` passes (then throws `what`). */
async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  for (const deadline = Date.now() + ms; !done(); ) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

/** An open client socket and the echoes it is waiting for. */
interface Client {
  ws: WebSocket;
  expected: string | undefined;
}

function openSocket(url: string, cookie: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { cookie }, perMessageDeflate: false, handshakeTimeout: 10_000 });
    ws.once('open', () => {
      ws.off('error', reject);
      resolve(ws);
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)));
  });
}

interface Step {
  /** The row's name; `sockets` open at the reading. */
  label: string;
  sockets: number;
  supervisor: number;
  /** After a full GC in the supervisor. */
  supervisorGc: GcReading;
  worker: number;
  workerGc: GcReading;
  fds: number;
  settleMs: number;
  settled: boolean;
}

const fmtMiB = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const fdLimit = checkFdLimit();
  const load = loadavg().map((l) => l.toFixed(2)).join(', ');
  console.log(`${SOCKETS} WebSockets, steps of ${STEP}, ${ROUNDS} echo rounds; ulimit -n ${fdLimit}; load average ${load}`);

  const dir = await mkdtemp(join(tmpdir(), 'handover-websockets-'));
  let run: HandoverRun | undefined;
  let wPid: number | undefined;
  const clients: Client[] = [];
  let wrongEchoes = 0;
  let cleaned: Promise<void> | undefined;
  const cleanup = () => (cleaned ??= stopAll());
  const stopAll = async () => {
    for (const c of clients) c.ws.terminate();
    if (run) await stopHandover(run, 10_000);
    // The supervisor stops its worker; should it have been SIGKILLed, the worker we know by pid
    // goes too (if that pid still runs our command line: its preload names our temp directory).
    if (wPid !== undefined) {
      try {
        if (readFileSync(`/proc/${wPid}/cmdline`, 'utf8').includes(dir)) process.kill(wPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  const watchdog = setTimeout(() => {
    console.error(`watchdog: not done after ${TIMEOUT_S} s; stopping`);
    void cleanup().finally(() => process.exit(1));
  }, TIMEOUT_S * 1000);
  watchdog.unref();

  try {
    const started = await startHandover({
      configPath: join(dir, 'handover.config.json'),
      config: (ports) => {
        const config = handoverConfig(ports, join(dir, 'data'), {
          name: 'web',
          command: `exec node ${gcOnSignal(dir).join(' ')} ${JSON.stringify(DEMO)}`,
          basePort: 20_000 + Math.floor(Math.random() * 10_000),
          sessionCookie: 'demo.sid',
          sessionReports: true,
          revision: 'bench',
          healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 100 },
        });
        // Every socket comes from 127.0.0.1: lift the per-address limit (default 1,000).
        return { ...config, proxy: { ...(config.proxy as object), limits: { maxConnectionsPerClient: 0 } } };
      },
      env: { HANDOVER_CONTROL_TOKEN: CONTROL_TOKEN },
      nodeArgs: gcOnSignal(dir).map((a) => a.replaceAll("'", '')),
      keeper: false,
    });
    run = started.run;
    const sPid = run.child.pid!;
    console.log(`supervisor runs the ${await runtimeOf(started.ports.control, CONTROL_TOKEN)} build`);
    const base = `http://127.0.0.1:${started.ports.proxy}`;

    // One session: POST /api/login through the proxy; its cookies (the demo's and Handover's route cookie).
    let cookie = '';
    await waitUntilReady(
      run.child,
      async () => {
        try {
          const res = await fetch(`${base}/api/login`, { method: 'POST' });
          await res.arrayBuffer();
          if (res.status !== 200) return false;
          cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
          return cookie.includes('demo.sid=');
        } catch {
          return false;
        }
      },
      { what: 'the proxy', output: () => run!.output },
    );
    wPid = workerPid(sPid);
    if (wPid === undefined) throw new Error('no demo worker found under the supervisor');
    const worker = wPid;

    const steps: Step[] = [];
    const measure = async (sockets: number, label = fmtInt(sockets)): Promise<Step> => {
      const s = await settledRss(sPid);
      const w = rssBytes([worker]);
      const [supervisorGc, workerGc] = await Promise.all([afterGc(dir, sPid), afterGc(dir, worker)]);
      return { label, sockets, supervisor: s.rss, supervisorGc, worker: w, workerGc, fds: fdCount(sPid), settleMs: s.ms, settled: s.settled };
    };
    steps.push(await measure(0));
    const fdsAtStart = steps[0]!.fds;

    const wsUrl = `ws://127.0.0.1:${started.ports.proxy}/ws`;
    /** Opens sockets until `target` are open, `PARALLEL` handshakes at a time. */
    const openUpTo = async (target: number) => {
      let next = clients.length;
      const opener = async () => {
        while (next < target) {
          next++;
          const ws = await openSocket(wsUrl, cookie);
          const client: Client = { ws, expected: undefined };
          ws.on('message', (data) => {
            if (client.expected === undefined) return; // the probe's echo, on the first socket
            if (data.toString() === client.expected) client.expected = undefined;
            else wrongEchoes++;
          });
          ws.on('error', () => {});
          clients.push(client);
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL, target - clients.length) }, opener));
    };
    /** Client close frames; the demo answers and ends; waits until the supervisor's tunnels (fds) are gone. */
    const closeAll = async () => {
      await Promise.all(clients.map((c) => new Promise<void>((resolve) => (c.ws.readyState === WebSocket.CLOSED ? resolve() : (c.ws.once('close', () => resolve()), c.ws.close(1000))))));
      clients.length = 0;
      await until(() => fdCount(sPid) <= fdsAtStart + 2, 20_000, `the supervisor's fds back to ${fdsAtStart} (now ${fdCount(sPid)})`);
    };

    const openedAt = Date.now();
    for (let target = Math.min(STEP, SOCKETS); ; target = Math.min(target + STEP, SOCKETS)) {
      await openUpTo(target);
      steps.push(await measure(target));
      if (target === SOCKETS) break;
    }
    const openMs = Date.now() - openedAt;

    // The worker's name, for the echoes: "<worker>: <message>".
    const probe = clients[0]!.ws;
    const prefix = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no echo to the probe message')), 10_000);
      probe.once('message', (data) => {
        clearTimeout(timer);
        const text = data.toString();
        resolve(text.slice(0, text.length - 'probe'.length));
      });
      probe.send('probe');
    });
    if (!prefix.endsWith(': ')) throw new Error(`unexpected echo prefix ${JSON.stringify(prefix)}`);

    const rounds: number[] = [];
    const cpuBefore = cpuSplitMicros([sPid]);
    const workerCpuBefore = cpuSplitMicros([worker]);
    for (let round = 0; round < ROUNDS; round++) {
      const began = process.hrtime.bigint();
      clients.forEach((c, i) => {
        const message = `r${round}m${i}`;
        c.expected = `${prefix}${message}`;
        c.ws.send(message);
      });
      await until(() => clients.every((c) => c.expected === undefined), 30_000, `echoes of round ${round + 1}`);
      if (wrongEchoes > 0) throw new Error(`${wrongEchoes} echoes were not "<worker>: <message>"`);
      rounds.push(Number(process.hrtime.bigint() - began) / 1e6);
    }
    const cpuAfter = cpuSplitMicros([sPid]);
    const workerCpuAfter = cpuSplitMicros([worker]);
    const echoes = ROUNDS * SOCKETS;
    const supUser = (cpuAfter.user - cpuBefore.user) / echoes;
    const supSys = (cpuAfter.sys - cpuBefore.sys) / echoes;
    const wrkCpu = (workerCpuAfter.user + workerCpuAfter.sys - workerCpuBefore.user - workerCpuBefore.sys) / echoes;

    // Close them all; then the same number again (is the memory reused?) and close again.
    const closedAt = Date.now();
    await closeAll();
    const closeMs = Date.now() - closedAt;
    const closed = await measure(0, 'all closed');
    await openUpTo(SOCKETS);
    const reopened = await measure(SOCKETS, `${fmtInt(SOCKETS)} again`);
    await closeAll();
    const closedAgain = await measure(0, 'all closed again');

    // Report.
    const start = steps[0]!;
    const atN = steps.at(-1)!;
    const perSocket = (value: (s: Step) => number) => slope(steps.map((s) => [s.sockets, value(s)]));
    const supSlope = perSocket((s) => s.supervisor);
    const supGcSlope = perSocket((s) => s.supervisorGc.rss);
    const supHeapSlope = perSocket((s) => s.supervisorGc.heapUsed + s.supervisorGc.external);
    const wrkSlope = perSocket((s) => s.worker);
    const wrkHeapSlope = perSocket((s) => s.workerGc.heapUsed + s.workerGc.external);
    const rows = [...steps, closed, reopened, closedAgain];
    console.log(`\nopened ${fmtInt(SOCKETS)} in ${(openMs / 1000).toFixed(1)} s (${PARALLEL} handshakes in flight, the readings included); closed in ${(closeMs / 1000).toFixed(1)} s`);
    console.log('RSS: as it settled (no GC forced). After full GC: SIGUSR2 → gc() in that process, then its RSS and V8 heap (used / committed, + external).\n');
    console.log('| open WebSockets | supervisor RSS | Δ since 0 | Δ per WebSocket | RSS after full GC | heap used / committed + external, after GC | supervisor fds | settled after |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of rows) {
      const delta = s.supervisor - start.supervisor;
      const per = s.sockets === 0 ? '–' : `${fmtInt(delta / s.sockets)} B`;
      const g = s.supervisorGc;
      const settle = `${s.settleMs} ms${s.settled ? '' : ' (not settled)'}`;
      console.log(`| ${s.label} | ${fmtMiB(s.supervisor)} | ${fmtMiB(delta)} | ${per} | ${fmtMiB(g.rss)} | ${fmtMiB(g.heapUsed)} / ${fmtMiB(g.heapTotal)} + ${fmtMiB(g.external)} | ${fmtInt(s.fds)} | ${settle} |`);
    }
    console.log('\n| open WebSockets | worker RSS | RSS after full GC | heap used / committed + external, after GC |');
    console.log('|---|---:|---:|---:|');
    for (const s of rows) {
      const g = s.workerGc;
      console.log(`| ${s.label} | ${fmtMiB(s.worker)} | ${fmtMiB(g.rss)} | ${fmtMiB(g.heapUsed)} / ${fmtMiB(g.heapTotal)} + ${fmtMiB(g.external)} |`);
    }
    const medianRound = [...rounds].sort((a, b) => a - b)[Math.floor(rounds.length / 2)]!;
    console.log('\n| figure | value |');
    console.log('|---|---:|');
    console.log(`| supervisor: bytes per open WebSocket, RSS slope over ${steps.length} steps | **${fmtInt(supSlope)} B** (${(supSlope / KiB).toFixed(1)} KiB); after full GCs ${fmtInt(supGcSlope)} B, of which V8 heap used + external ${fmtInt(supHeapSlope)} B |`);
    console.log(`| supervisor: RSS at 0 → ${fmtInt(SOCKETS)} → all closed → ${fmtInt(SOCKETS)} again → all closed | ${[start, atN, closed, reopened, closedAgain].map((s) => fmtMiB(s.supervisor)).join(' → ')} |`);
    console.log(`| supervisor: V8 heap used after GC, same points | ${[start, atN, closed, reopened, closedAgain].map((s) => fmtMiB(s.supervisorGc.heapUsed)).join(' → ')} |`);
    console.log(`| supervisor: fds per open WebSocket | ${((atN.fds - start.fds) / SOCKETS).toFixed(2)} |`);
    console.log(`| worker (demo): bytes per open WebSocket, RSS slope | ${fmtInt(wrkSlope)} B; V8 heap used + external after GC ${fmtInt(wrkHeapSlope)} B |`);
    console.log(`| echo round: one message on each of ${fmtInt(SOCKETS)} sockets, all echoes back | ${rounds.map((r) => `${r.toFixed(0)}`).join(', ')} ms (median ${medianRound.toFixed(0)} ms) |`);
    console.log(`| supervisor CPU per echoed message (both directions through the tunnel) | **${(supUser + supSys).toFixed(1)} µs** (user ${supUser.toFixed(1)}, sys ${supSys.toFixed(1)}) over ${fmtInt(echoes)} echoes |`);
    console.log(`| worker CPU per echoed message | ${wrkCpu.toFixed(1)} µs |`);
    console.log(`\nload average at the end: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
