/**
 * Handover's proxy inside the real supervisor (as main.ts runs it), alone, for diagnosis:
 * `npx tsx proxy/supervised.ts [--connections 50,200] [--seconds 5] [--repeats 1] [--log FILE]
 * [--node-options "--trace-gc"] [--idle S]`. Supervisor and worker on core 1, wrk on core 0. The
 * supervisor's stdout/stderr go to --log (so `--trace-gc` output can be read next to the runs).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSplitMicros } from './proc';
import { runWrk } from './wrk';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : (args[i + 1] as string);
};
const connections = arg('connections', '50,200').split(',').map(Number);
const seconds = Number(arg('seconds', '5'));
const repeats = Number(arg('repeats', '1'));
const log = arg('log', '/dev/null');
const nodeOptions = arg('node-options', '');
/** Seconds to wait before each run (the proxy's idle worker connections expire after 4 s, as between main.ts's configurations). */
const idle = Number(arg('idle', '0'));

function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}
async function ready(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready`);
}

const dir = mkdtempSync(join(tmpdir(), 'handover-supervised-'));
let supervisor: ChildProcess | undefined;
try {
  const [proxyPort, controlPort] = [await freePort(), await freePort()];
  const configPath = join(dir, 'handover.config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      proxy: { port: proxyPort },
      control: { port: controlPort },
      dataDir: join(dir, 'handover-data'),
      pools: [
        {
          name: 'web',
          command: `node ${JSON.stringify(join(HERE, 'worker.mjs'))}`,
          basePort: 20_000 + Math.floor(Math.random() * 10_000),
          sessionCookie: 'JSESSIONID',
          healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 100 },
        },
      ],
    }),
  );
  const out = openSync(log, 'a');
  supervisor = spawn('taskset', ['-c', '1', 'node', ...nodeOptions.split(' ').filter(Boolean), join(ROOT, 'apps/supervisor/bin/handover.mjs'), 'start', '--config', configPath], {
    env: { ...process.env, HANDOVER_CONTROL_TOKEN: 'bench-token-0123456789abcdef', HANDOVER_KEEPER: '0' }, // its pid is measured
    stdio: ['ignore', out, out],
  });
  await ready(`http://127.0.0.1:${proxyPort}/login`);
  for (let r = 0; r < repeats; r++) {
    for (const c of connections) {
      if (idle > 0) {
        // The supervisor's own background work (timers, journal flush, log tailing) while nothing is served.
        const quiet = cpuSplitMicros([supervisor.pid!]);
        await new Promise((r) => setTimeout(r, idle * 1000));
        const done = cpuSplitMicros([supervisor.pid!]);
        console.log(`supervised idle ${idle}s: ${((done.user + done.sys - quiet.user - quiet.sys) / 1000 / idle).toFixed(1)} ms CPU per second`);
      }
      if (log !== '/dev/null') appendFileSync(log, `=== run c=${c} start ${Date.now()}\n`);
      const before = cpuSplitMicros([supervisor.pid!]);
      const w = await runWrk({ url: `http://127.0.0.1:${proxyPort}/`, connections: c, seconds, script: join(HERE, 'sticky.lua'), cpu: 0 });
      const after = cpuSplitMicros([supervisor.pid!]);
      if (log !== '/dev/null') appendFileSync(log, `=== run c=${c} end ${Date.now()}\n`);
      const cpu = (after.user + after.sys - before.user - before.sys) / w.requests;
      console.log(
        `supervised c=${String(c).padEnd(4)} ${w.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${w.p50Us}µs p99 ${w.p99Us}µs  cpu ${cpu.toFixed(1)} µs/req (sys ${((after.sys - before.sys) / w.requests).toFixed(1)})` +
          (w.errors || w.non2xx ? `  ERRORS ${w.errors}/${w.non2xx}` : ''),
      );
    }
  }
} finally {
  if (supervisor && supervisor.exitCode === null) {
    await new Promise<void>((done) => {
      const t = setTimeout(() => { supervisor!.kill('SIGKILL'); done(); }, 15_000);
      supervisor!.once('exit', () => { clearTimeout(t); done(); });
      supervisor!.kill('SIGTERM');
    });
  }
  rmSync(dir, { recursive: true, force: true });
}
