/**
 * `npm run bench`: Handover's proxy side by side with the proxies a user would pick instead
 * (nginx, HAProxy, the `http-proxy` npm package) and with no proxy at all, under the same wrk
 * load with a sticky session cookie (or, with `--scenario new-session`, no cookie and a new session
 * in every response: what learning a session costs each). wrk runs on core 0, every server on core 1, so the figures
 * mean something on a 2-core machine (`--layout unpinned`: nothing pinned, and nginx and HAProxy
 * get 2 workers/threads, what each does with the whole machine). `--instances N` puts N workers
 * behind every proxy (Handover: a pool of N instances; HAProxy: N servers, round robin for new
 * sessions; nginx: N servers by the cookie's hash). Configurations alternate within each
 * repetition and the medians are reported. Writes bench/results/proxy[-<scenario>][-<layout>]
 * [-<N>-instances].json and prints a Markdown table.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { answers, startOnFreePort } from '../../test-support/ports';
import { startBenchHandover } from './handover';
import { cpuSplitMicros, processTree, rssBytes } from './proc';
import { type WrkResult, runWrk } from './wrk';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Pinned layout: wrk on core 0, every server on core 1. */
const PINNED = { load: 0, server: 1 } as const;
let layout: { load: number | null; server: number | null } = PINNED;

interface Options {
  seconds: number;
  repeats: number;
  connections: number[];
  only: string[] | null;
  scenario: 'sticky' | 'new-session';
  layout: 'pinned' | 'unpinned';
  instances: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { seconds: 5, repeats: 3, connections: [1, 50, 200], only: null, scenario: 'sticky', layout: 'pinned', instances: 1 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--seconds') options.seconds = Number(value);
    else if (flag === '--repeats') options.repeats = Number(value);
    else if (flag === '--connections') options.connections = String(value).split(',').map(Number);
    else if (flag === '--only') options.only = String(value).split(',');
    else if (flag === '--scenario') {
      if (value !== 'sticky' && value !== 'new-session') throw new Error(`--scenario: sticky or new-session, not ${value}`);
      options.scenario = value;
    } else if (flag === '--layout') {
      if (value !== 'pinned' && value !== 'unpinned') throw new Error(`--layout: pinned or unpinned, not ${value}`);
      options.layout = value;
    } else if (flag === '--instances') {
      options.instances = Number(value);
      if (!Number.isInteger(options.instances) || options.instances < 1 || options.instances > 8) throw new Error(`--instances: 1 to 8, not ${value}`);
    } else continue;
    i++;
  }
  return options;
}

function requireTools(): void {
  const missing = ['wrk', 'nginx', 'haproxy', 'taskset'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    console.log(`installing what the benchmark needs: ${missing.join(', ')} (Debian packages wrk, nginx-light, haproxy, util-linux)`);
    execFileSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq wrk nginx-light haproxy util-linux >/dev/null'], {
      stdio: 'inherit',
    });
  }
}

interface Target {
  name: string;
  url: string;
  /** The processes whose CPU and memory count as "the proxy" (none for direct). */
  proxyPids: () => number[];
}

const children: ChildProcess[] = [];
function start(command: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const pinned = layout.server === null ? command : ['taskset', '-c', String(layout.server), ...command];
  const child = spawn(pinned[0]!, pinned.slice(1), {
    env: { ...process.env, ...env },
    // stderr through us: shown as before, and read for "address in use" (then another port).
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  children.push(child);
  return child;
}

/** A server of this benchmark on a port chosen now, answering `path` (another port if it was taken). */
async function startServer(what: string, spawnOn: (port: number) => ChildProcess, path = '/'): Promise<{ child: ChildProcess; port: number }> {
  return startOnFreePort(what, spawnOn, (port) => answers(`http://127.0.0.1:${port}${path}`));
}

function stopAll(): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
}

async function startTargets(dir: string, options: Options): Promise<Target[]> {
  const { only, scenario, instances } = options;
  const want = (name: string) => only === null || only.includes(name);
  /** Workers and threads of the proxies that can use several cores. */
  const proxyThreads = options.layout === 'unpinned' ? 2 : 1;
  // One bench worker per configuration (Handover's supervisor starts its own), so no proxy's
  // idle keep-alive connections burden the worker another one is measured against.
  const newWorker = async (): Promise<number> =>
    (await startServer('a bench worker', (port) => start(['node', join(HERE, 'worker.mjs')], { PORT: String(port) }), '/login')).port;
  const newWorkers = async (): Promise<number[]> => {
    const ports: number[] = [];
    for (let i = 0; i < instances; i++) ports.push(await newWorker());
    return ports;
  };
  const directPort = await newWorker();
  const targets: Target[] = [{ name: 'direct', url: `http://127.0.0.1:${directPort}/`, proxyPids: () => [] }];

  if (want('handover')) {
    const { run, url } = await startBenchHandover(dir, {
      cpu: layout.server,
      instances,
      onOutput: (chunk, stream) => {
        if (stream === 'stderr') process.stderr.write(chunk);
      },
    });
    const supervisor = run.child;
    children.push(supervisor);
    targets.push({ name: 'handover', url, proxyPids: () => [supervisor.pid!] });
  }

  if (want('nginx')) {
    const workerPorts = await newWorkers();
    const conf = join(dir, 'nginx.conf');
    const writeConf = (port: number) => writeFileSync(
      conf,
      `worker_processes ${proxyThreads};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx-body; proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fcgi; uwsgi_temp_path ${dir}/nginx-uwsgi; scgi_temp_path ${dir}/nginx-scgi;
  upstream workers {
    hash $cookie_JSESSIONID consistent;
${workerPorts.map((workerPort) => `    server 127.0.0.1:${workerPort};\n`).join('')}    keepalive 256;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://workers;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`,
    );
    const { child: nginx, port } = await startServer('nginx', (port) => {
      writeConf(port);
      return start(['nginx', '-c', conf, '-p', dir]);
    });
    targets.push({ name: 'nginx', url: `http://127.0.0.1:${port}/`, proxyPids: () => processTree(nginx.pid!) });
  }

  if (want('haproxy')) {
    const workerPorts = await newWorkers();
    const conf = join(dir, 'haproxy.cfg');
    const writeConf = (port: number) => writeFileSync(
      conf,
      `global
  nbthread ${proxyThreads}
  maxconn 8192
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend public
  bind 127.0.0.1:${port}
  option forwardfor
  default_backend workers
backend workers
  balance roundrobin
  cookie SERVERID insert indirect nocache
${
  // New sessions: HAProxy learns each from the response, as Handover does (a stick table).
  scenario === 'new-session'
    ? '  stick-table type string len 64 size 1m expire 30m\n  stick on req.cook(JSESSIONID)\n  stick store-response res.cook(JSESSIONID)\n'
    : ''
}${workerPorts.map((workerPort, i) => `  server w${i + 1} 127.0.0.1:${workerPort} cookie w${i + 1}\n`).join('')}`,
    );
    const { child: haproxy, port } = await startServer('HAProxy', (port) => {
      writeConf(port);
      return start(['haproxy', '-db', '-f', conf]);
    });
    targets.push({ name: 'haproxy', url: `http://127.0.0.1:${port}/`, proxyPids: () => [haproxy.pid!] });
  }

  // The http-proxy peer knows one upstream: it is left out with several.
  if (want('http-proxy') && instances === 1) {
    const workerPort = await newWorker();
    const { child: peer, port } = await startServer('http-proxy', (port) =>
      start(['node', join(HERE, 'http-proxy-peer.mjs')], { PORT: String(port), UPSTREAM_PORT: String(workerPort) }),
    );
    targets.push({ name: 'http-proxy', url: `http://127.0.0.1:${port}/`, proxyPids: () => [peer.pid!] });
  }
  return targets;
}

interface Run extends WrkResult {
  target: string;
  connections: number;
  repeat: number;
  cpuUsPerRequest: number | null;
  /** The kernel's part of cpuUsPerRequest (syscalls, loopback TCP). */
  sysUsPerRequest: number | null;
  rssBytes: number | null;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (options.layout === 'unpinned') layout = { load: null, server: null };
  requireTools();
  const dir = mkdtempSync(join(tmpdir(), 'handover-bench-'));
  const script = join(HERE, `${options.scenario}.lua`);
  const runs: Run[] = [];
  try {
    const targets = await startTargets(dir, options);
    console.log(`${options.scenario}, ${options.layout}, ${options.instances} worker${options.instances > 1 ? 's' : ''} per proxy: targets ${targets.map((t) => t.name).join(', ')}; ${options.repeats} × ${options.seconds}s at ${options.connections.join('/')} connections`);
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      for (const connections of options.connections) {
        // Rotate the order each repetition so no configuration always runs first or last.
        const order = targets.map((_, i) => targets[(i + repeat) % targets.length]!);
        for (const target of order) {
          const pids = target.proxyPids();
          const cpuBefore = pids.length ? cpuSplitMicros(pids) : { user: 0, sys: 0 };
          const result = await runWrk({ url: target.url, connections, seconds: options.seconds, script, cpu: layout.load });
          const cpuAfter = pids.length ? cpuSplitMicros(pids) : null;
          const cpu = cpuAfter ? cpuAfter.user + cpuAfter.sys - cpuBefore.user - cpuBefore.sys : null;
          const sys = cpuAfter ? cpuAfter.sys - cpuBefore.sys : null;
          const run: Run = {
            ...result,
            target: target.name,
            connections,
            repeat,
            cpuUsPerRequest: cpu === null ? null : cpu / result.requests,
            sysUsPerRequest: sys === null ? null : sys / result.requests,
            rssBytes: pids.length ? rssBytes(pids) : null,
          };
          runs.push(run);
          console.log(
            `  ${target.name.padEnd(10)} c=${String(connections).padEnd(3)} ${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${result.p50Us.toFixed(0)}µs  p99 ${result.p99Us.toFixed(0)}µs` +
              (run.cpuUsPerRequest !== null ? `  cpu ${run.cpuUsPerRequest.toFixed(1)}µs/req (sys ${run.sysUsPerRequest!.toFixed(1)})` : '') +
              (result.errors || result.non2xx ? `  ERRORS ${result.errors} non-2xx ${result.non2xx}` : ''),
          );
        }
      }
    }
  } finally {
    stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  const table = summarize(runs, options);
  console.log(`\n${table}`);
  const out = join(HERE, '..', 'results');
  mkdirSync(out, { recursive: true });
  const name = ['proxy', options.scenario === 'sticky' ? '' : options.scenario, options.layout === 'pinned' ? '' : options.layout, options.instances === 1 ? '' : `${options.instances}-instances`]
    .filter(Boolean)
    .join('-');
  writeFileSync(join(out, `${name}.json`), JSON.stringify({ options, runs }, null, 2));
  writeFileSync(join(out, `${name}.md`), `${table}\n`);
  const failed = runs.filter((r) => r.errors > 0 || r.non2xx > 0);
  if (failed.some((r) => r.target === 'handover')) {
    console.error('Handover answered with errors: see the runs above');
    process.exitCode = 1;
  }
}

export function summarize(runs: Run[], options: Options): string {
  const lines: string[] = [];
  for (const connections of options.connections) {
    const at = runs.filter((r) => r.connections === connections);
    const direct = median(at.filter((r) => r.target === 'direct').map((r) => r.requestsPerSecond));
    const directP50 = median(at.filter((r) => r.target === 'direct').map((r) => r.p50Us));
    lines.push(`\n**${connections} connection${connections > 1 ? 's' : ''}** (medians of ${options.repeats})\n`);
    lines.push('| configuration | req/s | × direct | p50 | p99 | added p50 | proxy CPU/req | of which kernel | proxy RSS | errors |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const name of [...new Set(at.map((r) => r.target))]) {
      const mine = at.filter((r) => r.target === name);
      const rps = median(mine.map((r) => r.requestsPerSecond));
      const p50 = median(mine.map((r) => r.p50Us));
      const cpu = mine[0]!.cpuUsPerRequest === null ? null : median(mine.map((r) => r.cpuUsPerRequest!));
      const sys = mine[0]!.sysUsPerRequest == null ? null : median(mine.map((r) => r.sysUsPerRequest!));
      const rss = mine[0]!.rssBytes === null ? null : median(mine.map((r) => r.rssBytes!));
      const errors = mine.reduce((sum, r) => sum + r.errors + r.non2xx, 0);
      lines.push(
        `| ${name} | ${rps.toFixed(0)} | ${(rps / direct).toFixed(2)} | ${us(p50)} | ${us(median(mine.map((r) => r.p99Us)))} | ${name === 'direct' ? '–' : us(p50 - directP50)} | ${cpu === null ? '–' : `${cpu.toFixed(1)} µs`} | ${sys === null ? '–' : `${sys.toFixed(1)} µs`} | ${rss === null ? '–' : `${(rss / 1048576).toFixed(1)} MiB`} | ${errors} |`,
      );
    }
  }
  return lines.join('\n');
}

function us(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} ms` : `${value.toFixed(0)} µs`;
}

process.on('SIGINT', () => {
  stopAll();
  process.exit(130);
});
main().catch((error: unknown) => {
  stopAll();
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
