/**
 * Handover's proxy inside the real supervisor (as main.ts runs it), alone, for diagnosis:
 * `npx tsx proxy/supervised.ts [--connections 50,200] [--seconds 5] [--repeats 1] [--log FILE]
 * [--node-options "--trace-gc"] [--idle S] [--scenario sticky|new-session] [--instances N]`. Supervisor and worker
 * on core 1, wrk on core 0. `new-session`: no cookie, a new session in every response. The
 * supervisor's stdout/stderr go to --log (so `--trace-gc` output can be read next to the runs).
 */
import { appendFileSync, closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HandoverRun, stopHandover } from '../../test-support/handover';
import { startBenchHandover } from './handover';
import { contextSwitches, cpuSplitMicros, threadCpuDelta, threadCpuMicros } from './proc';
import { runWrk } from './wrk';

const HERE = dirname(fileURLToPath(import.meta.url));
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
const scenario = arg('scenario', 'sticky');
const instances = Number(arg('instances', '1'));
if (scenario !== 'sticky' && scenario !== 'new-session') throw new Error(`--scenario: sticky or new-session, not ${scenario}`);

const dir = mkdtempSync(join(tmpdir(), 'handover-supervised-'));
let run: HandoverRun | undefined;
const out = openSync(log, 'a');
try {
  const started = await startBenchHandover(dir, {
    cpu: 1,
    instances,
    nodeArgs: nodeOptions.split(' ').filter(Boolean),
    onOutput: (chunk) => writeSync(out, chunk),
  });
  run = started.run;
  const supervisor = run.child;
  const url = started.url;
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
      const threadsBefore = threadCpuMicros(supervisor.pid!);
      const switchesBefore = contextSwitches(supervisor.pid!);
      const w = await runWrk({ url, connections: c, seconds, script: join(HERE, `${scenario}.lua`), cpu: 0 });
      const after = cpuSplitMicros([supervisor.pid!]);
      const switches = contextSwitches(supervisor.pid!);
      const threads = [...threadCpuDelta(supervisor.pid!, threadsBefore, threadCpuMicros(supervisor.pid!))].sort((a, b) => b[1] - a[1]);
      if (log !== '/dev/null') appendFileSync(log, `=== run c=${c} end ${Date.now()}\n`);
      const cpu = (after.user + after.sys - before.user - before.sys) / w.requests;
      console.log(
        `supervised ${scenario} c=${String(c).padEnd(4)} ${w.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${w.p50Us}µs p99 ${w.p99Us}µs  cpu ${cpu.toFixed(1)} µs/req (sys ${((after.sys - before.sys) / w.requests).toFixed(1)})` +
          (w.errors || w.non2xx ? `  ERRORS ${w.errors}/${w.non2xx}` : ''),
      );
      // Which threads the CPU went to: the event loop, the journal's writer thread, V8's GC helpers, libuv's pool.
      console.log(`  by thread (µs/req): ${threads.map(([name, micros]) => `${name} ${(micros / w.requests).toFixed(1)}`).join(', ')}`);
      // Fewer requests per wake-up means each pays more of the loop's fixed cost.
      const perThousand = (n: number) => ((n / w.requests) * 1000).toFixed(0);
      console.log(`  main thread context switches per 1000 requests: ${perThousand(switches.voluntary - switchesBefore.voluntary)} voluntary, ${perThousand(switches.involuntary - switchesBefore.involuntary)} involuntary`);
    }
  }
} finally {
  if (run) await stopHandover(run);
  closeSync(out);
  rmSync(dir, { recursive: true, force: true });
}
