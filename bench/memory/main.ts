/**
 * Memory of each Handover process as users run it (`handover start`, keeper included), idle and
 * under load, from the compiled build and from the TypeScript sources through tsx:
 * `npm run bench:memory [-- --seconds 10 --connections 50]`. Build first (`npm run build -w
 * @handover/supervisor`). Started: RSS 3 s after the proxy first answered (read every 100 ms, the
 * last value). Idle: the same after 15 s with nothing to do, once V8's memory reducer has given
 * back what the start grew (the young generation, mostly). Loaded: the largest RSS seen while wrk runs sticky requests through the proxy.
 * `--sessions N` (compiled build only): then new sessions through the proxy until the supervisor
 * holds N, and the supervisor's RSS with them, settled (read every 100 ms for 3 s, the last value),
 * and its V8 heap after a full GC (that run's processes get a SIGUSR2 handler for it: `gc()`, then
 * `process.memoryUsage()` to a file).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handoverConfig, startHandover, stopHandover } from '../../test-support/handover';
import { answers, waitUntilReady } from '../../test-support/ports';
import { processTree, rssBytes } from '../proxy/proc';
import { runWrk } from '../proxy/wrk';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : (args[i + 1] as string);
};
const seconds = Number(arg('seconds', '10'));
const connections = Number(arg('connections', '50'));
const sessions = Number(arg('sessions', '0'));
const HERE = import.meta.dirname;
const TOKEN = 'bench-token-0123456789abcdef';

type Role = 'keeper' | 'supervisor' | 'worker';

/** The processes under the keeper, by what they run. */
function roles(keeperPid: number): Map<Role, number> {
  const found = new Map<Role, number>([['keeper', keeperPid]]);
  for (const pid of processTree(keeperPid).slice(1)) {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    if (cmdline.includes('worker.mjs') && !cmdline.startsWith('sh')) found.set('worker', pid);
    else if (cmdline.includes('handover.mjs start')) found.set('supervisor', pid);
  }
  return found;
}

interface Reading {
  started: number;
  idle: number;
  loaded: number;
}

async function measure(fromSource: boolean): Promise<Record<Role, Reading>> {
  const dir = await mkdtemp(join(tmpdir(), 'handover-memory-'));
  const { run, ports } = await startHandover({
    configPath: join(dir, 'handover.config.json'),
    config: (p) =>
      handoverConfig(p, join(dir, 'data'), {
        name: 'web',
        command: `exec node ${JSON.stringify(join(HERE, '../proxy/worker.mjs'))}`,
        basePort: 20_000 + Math.floor(Math.random() * 10_000),
        sessionCookie: 'JSESSIONID',
        healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 100 },
      }),
    env: { HANDOVER_CONTROL_TOKEN: TOKEN, HANDOVER_FROM_SOURCE: fromSource ? '1' : '0' },
    nodeArgs: !fromSource && sessions > 0 ? gcOnSignal(dir) : [],
    keeper: true,
  });
  try {
    const url = `http://127.0.0.1:${ports.proxy}/`;
    await waitUntilReady(run.child, () => answers(`${url}login`), { what: 'the proxy', output: () => run.output });
    const pids = roles(run.child.pid!);
    const sample = () => new Map([...pids].map(([role, pid]) => [role, rssBytes([pid])]));
    const answeredAt = Date.now();
    const sampleUntil = async (ms: number) => {
      let last = sample();
      while (Date.now() < answeredAt + ms) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        last = sample();
      }
      return last;
    };
    const started = await sampleUntil(3000);
    const idle = await sampleUntil(15_000);
    const peak = new Map(idle);
    const sampler = setInterval(() => {
      for (const [role, rss] of sample()) peak.set(role, Math.max(peak.get(role) ?? 0, rss));
    }, 100);
    const load = await runWrk({ url, connections, seconds, script: join(HERE, '../proxy/sticky.lua'), cpu: 0 });
    clearInterval(sampler);
    if (load.errors > 0 || load.non2xx > 0) throw new Error(`errors under load: ${load.errors} socket, ${load.non2xx} non-2xx`);
    const result = {} as Record<Role, Reading>;
    for (const role of ['keeper', 'supervisor', 'worker'] as const) {
      if (!pids.has(role)) throw new Error(`no ${role} process found under the keeper`);
      result[role] = { started: started.get(role)!, idle: idle.get(role)!, loaded: peak.get(role)! };
    }
    console.log(`${fromSource ? 'tsx' : 'compiled'}: ${load.requestsPerSecond.toFixed(0)} req/s under load`);
    if (!fromSource && sessions > 0) {
      const supervisor = pids.get('supervisor')!;
      const before = await heapAfterGc(dir, supervisor);
      const live = await fillSessions(url, ports.control, supervisor);
      const after = await heapAfterGc(dir, supervisor);
      const perSession = (after.heapUsed - before.heapUsed) / (live - 1);
      console.log(`supervisor V8 heap after a full GC: ${mib(before.heapUsed)} idle, ${mib(after.heapUsed)} with the sessions (${perSession.toFixed(0)} B per session retained)`);
    }
    return result;
  } finally {
    await stopHandover(run);
    await rm(dir, { recursive: true, force: true });
  }
}

/** The live sessions the supervisor counts, summed over its workers (control API `workers.list`). */
async function liveSessions(controlPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${controlPort}/trpc/workers.list`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await res.json()) as { result: { data: Array<{ sessions: number }> } };
  return body.result.data.reduce((sum, worker) => sum + worker.sessions, 0);
}

/** Node flags: on SIGUSR2 a full GC, then `process.memoryUsage()` written to `<dir>/gc-<pid>.json`. */
function gcOnSignal(dir: string): string[] {
  const preload = `import{writeFileSync}from"node:fs";process.on("SIGUSR2",()=>{globalThis.gc();writeFileSync(${JSON.stringify(dir)}+"/gc-"+process.pid+".json",JSON.stringify(process.memoryUsage()))})`;
  return ['--expose-gc', `--import=data:text/javascript,${preload}`];
}

/** The process's V8 heap after a full GC (see gcOnSignal). */
async function heapAfterGc(dir: string, pid: number): Promise<NodeJS.MemoryUsage> {
  const file = join(dir, `gc-${pid}.json`);
  await rm(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (const until = Date.now() + 30_000; Date.now() < until; ) {
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as NodeJS.MemoryUsage;
      } catch {
        // still being written
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no heap reading from pid ${pid} within 30 s`);
}

/** New sessions (the new-session scenario) until the supervisor holds `sessions`; prints its RSS then. Returns how many it holds. */
async function fillSessions(url: string, controlPort: number, supervisorPid: number): Promise<number> {
  const started = Date.now();
  for (let live = await liveSessions(controlPort); live < sessions; ) {
    const load = await runWrk({ url, connections, seconds: 10, script: join(HERE, '../proxy/new-session.lua'), cpu: 0 });
    if (load.errors > 0 || load.non2xx > 0) throw new Error(`errors while adding sessions: ${load.errors} socket, ${load.non2xx} non-2xx`);
    live = await liveSessions(controlPort);
    console.log(`  ${live.toLocaleString('en-US')} sessions after ${((Date.now() - started) / 1000).toFixed(0)} s; supervisor ${mib(rssBytes([supervisorPid]))}`);
  }
  let rss = rssBytes([supervisorPid]);
  for (const until = Date.now() + 3000; Date.now() < until; ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    rss = rssBytes([supervisorPid]);
  }
  const live = await liveSessions(controlPort);
  console.log(`supervisor with ${live.toLocaleString('en-US')} live sessions: ${mib(rss)} RSS, settled`);
  return live;
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MiB`;
const compiled = await measure(false);
const source = await measure(true);
console.log(`\n| process | compiled: started, idle | compiled, ${connections} conns | tsx: started, idle | tsx, ${connections} conns |`);
console.log('|---|---|---|---|---|');
const both = (r: Reading) => `${mib(r.started)}, ${mib(r.idle)}`;
for (const role of ['keeper', 'supervisor', 'worker'] as const) {
  console.log(`| ${role} | ${both(compiled[role])} | ${mib(compiled[role].loaded)} | ${both(source[role])} | ${mib(source[role].loaded)} |`);
}
const sum = (r: typeof compiled): Reading => ({
  started: r.keeper.started + r.supervisor.started,
  idle: r.keeper.idle + r.supervisor.idle,
  loaded: r.keeper.loaded + r.supervisor.loaded,
});
console.log(`| keeper + supervisor | ${both(sum(compiled))} | ${mib(sum(compiled).loaded)} | ${both(sum(source))} | ${mib(sum(source).loaded)} |`);
