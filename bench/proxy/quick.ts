/**
 * Quick A/B of the proxy alone: `npx tsx proxy/quick.ts [--engines lean,lean:plain] [--connections 1,50]
 * [--seconds 5] [--repeats 1] [--idle S] [--node-flags "…"] [--prof DIR]`. Worker and proxy pinned on core 1, wrk on core 0;
 * prints req/s, p50/p99 and proxy CPU µs/request (from /proc). With --prof the proxy runs under
 * `node --cpu-prof` and the top self-time functions are printed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { answers, startOnFreePort } from '../../test-support/ports';
import { cpuSplitMicros } from './proc';
import { runWrk } from './wrk';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : (args[i + 1] as string);
};
const engines = arg('engines', 'lean,lean:plain').split(',');
const connections = arg('connections', '1,50').split(',').map(Number);
const seconds = Number(arg('seconds', '5'));
const repeats = Number(arg('repeats', '1'));
const prof = arg('prof', '');
/** Seconds to wait before each run (idle worker connections expire after 4 s, as between main.ts's configurations). */
const idle = Number(arg('idle', '0'));
/** Extra node flags for the proxy process (e.g. "--no-flush-bytecode"). */
const nodeFlags = arg('node-flags', '').split(' ').filter(Boolean);

const children: ChildProcess[] = [];
/** A server on core 1 on a port chosen now, ready when /login answers (another port if it was taken). */
async function start(what: string, cmd: string[], env: (port: number) => NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number }> {
  return startOnFreePort(
    what,
    (port) => {
      // stderr through us: shown as before, and read for "address in use".
      const child = spawn('taskset', ['-c', '1', ...cmd], { env: { ...process.env, ...env(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
      children.push(child);
      return child;
    },
    (port) => answers(`http://127.0.0.1:${port}/login`),
  );
}
/** proxy-only.ts bundled to one plain JS file (the tsx A/B). */
async function bundle(): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), 'handover-quick-')), 'proxy-only.mjs');
  const esbuild = await import('esbuild');
  await esbuild.build({ entryPoints: [join(HERE, 'proxy-only.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: out, logLevel: 'error' });
  return out;
}
function topSelf(file: string, n = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    if (byId.get(id)!.callFrame.functionName === "(idle)") return;
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
}

try {
  const { port: workerPort } = await start('the bench worker', ['node', join(HERE, 'worker.mjs')], (port) => ({ PORT: String(port) }));
  for (const engine of engines) {
    const dir = prof ? join(prof, engine) : '';
    if (dir) mkdirSync(dir, { recursive: true });
    // `<engine>:plain` runs an esbuild bundle of proxy-only.ts under plain node (no tsx loader).
    const [engineName, variant] = engine.split(':') as [string, string | undefined];
    const script = variant === 'plain' ? await bundle() : join(HERE, 'proxy-only.ts');
    const node = ['node', ...nodeFlags, ...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), ...(variant === 'plain' ? [] : ['--import', 'tsx']), script];
    const { child: proxy, port } = await start(`the proxy (${engine})`, node, (port) => ({
      PORT: String(port),
      UPSTREAM_PORT: String(workerPort),
      HANDOVER_PROXY_ENGINE: engineName,
    }));
    for (let r = 0; r < repeats; r++) {
      for (const c of connections) {
        if (idle > 0) await new Promise((r) => setTimeout(r, idle * 1000));
        const before = cpuSplitMicros([proxy.pid!]);
        const w = await runWrk({ url: `http://127.0.0.1:${port}/`, connections: c, seconds, script: join(HERE, 'sticky.lua'), cpu: 0 });
        const after = cpuSplitMicros([proxy.pid!]);
        const user = (after.user - before.user) / w.requests;
        const cpu = user + (after.sys - before.sys) / w.requests;
        console.log(
          `${engine.padEnd(7)} c=${String(c).padEnd(4)} ${w.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${w.p50Us}µs p99 ${w.p99Us}µs  cpu ${cpu.toFixed(1)} µs/req (user ${user.toFixed(1)})` +
            (w.errors || w.non2xx ? `  ERRORS ${w.errors}/${w.non2xx}` : ''),
        );
      }
    }
    await new Promise<void>((done) => {
      proxy.once('exit', () => done());
      proxy.kill('SIGTERM');
    });
    if (dir) {
      const file = readdirSync(dir).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f)).sort().pop();
      if (file) console.log(`--- ${engine}: top self time (${join(dir, file)})\n${topSelf(join(dir, file))}`);
    }
  }
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
}
