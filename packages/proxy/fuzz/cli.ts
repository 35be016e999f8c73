/**
 * npm run fuzz -- [--seed N] [--streams M] [--seconds S] [--concurrency C] [--minimize K] [--save]
 *
 * Prints streams/s, requests answered/refused, and each finding with its seed/stream and a
 * minimal reproduction (raw bytes as a JS string literal). --save writes each reproduction to
 * fuzz/regressions/ (replayed by test/fuzz.test.ts). Exit code 1 when anything was found.
 */
import { generateStream } from './generate';
import { fuzz, inspect, replayAll } from './harness';
import fs from 'node:fs';
import { describe, fromJson, literal, loadRegressions, saveRegression } from './saved';

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at === -1 ? undefined : Number(process.argv[at + 1]);
  return value === undefined || Number.isNaN(value) ? fallback : value;
}

const seed = arg('seed', Math.floor(Math.random() * 2 ** 31));
if (process.argv.includes('--regressions')) {
  // Replays every saved reproduction (what test/fuzz.test.ts does) and says which still fail.
  const saved = loadRegressions();
  const results = await replayAll(saved.map((s) => s.regression.streams));
  results.forEach((findings, i) => {
    const name = saved[i]?.file ?? '?';
    console.log(`${findings.length === 0 ? 'ok  ' : 'FAIL'} ${name}${findings.map((f) => `\n       ${f.kind} ${f.request ?? ''}: ${f.detail}`).join('')}`);
  });
  process.exit(results.some((f) => f.length > 0) ? 1 : 0);
}
if (process.argv.includes('--only') || process.argv.includes('--replay')) {
  // --only N[,M…]: replay those streams of the seed one after the other and show everything;
  // --replay FILE: the same for a saved reproduction.
  const file = process.argv.includes('--replay') ? String(process.argv[process.argv.indexOf('--replay') + 1]) : undefined;
  const list = file ? [] : String(process.argv[process.argv.indexOf('--only') + 1]).split(',').map(Number);
  const streams = file ? fromJson(fs.readFileSync(file, 'utf8')).streams : list.map((n) => generateStream(seed, n));
  for (const s of streams) {
    console.log(`stream ${s.name}: splits ${s.splits.length}, waits ${JSON.stringify(s.waits)}, cut ${JSON.stringify(s.cut)}`);
    for (const r of s.requests) {
      console.log(`  ${describe(r)}`);
      const bytes = s.bytes.subarray(r.start, r.end);
      const head = bytes.indexOf('\r\n\r\n');
      console.log(`    ${literal(bytes.subarray(0, head === -1 ? 400 : Math.min(head + 4, 1500)), 1500)}${bytes.length > head + 4 ? ` + ${bytes.length - head - 4} B` : ''}`);
    }
  }
  await inspect(streams, (line) => console.log(line));
  process.exit(0);
}
const report = await fuzz({
  seed,
  streams: arg('streams', 2000),
  seconds: arg('seconds', 60),
  concurrency: arg('concurrency', 8),
  minimize: arg('minimize', 10),
  log: (line) => console.log(`  … ${line}`),
});
const save = process.argv.includes('--save');

console.log(
  `\nseed ${report.seed}: ${report.streams} streams, ${report.requests} requests in ${report.seconds.toFixed(1)} s ` +
    `(${(report.streams / report.seconds).toFixed(0)} streams/s); answered by the worker ${report.answered}, refused by the proxy ${report.refused}; ` +
    `proxy deaths ${report.deaths}; ${report.findings.length} distinct finding(s)`,
);
console.log(`slowest streams: ${report.slowest.map(([name, ms]) => `${name} ${ms} ms`).join(', ')}`);
for (const [n, f] of report.findings.entries()) {
  console.log(`\n#${n + 1} ${f.kind} ×${f.count} — stream ${f.stream}${f.request ? `, request ${f.request}` : ''}${f.related && f.related !== f.request ? ` (after ${f.related} on the same worker connection)` : ''}`);
  console.log(`   ${f.detail}`);
  for (const more of f.also) console.log(`   also ${more}`);
  if (f.why.length > 0) console.log(`   request: ${f.why.join(', ')}`);
  if (f.repro === undefined) {
    console.log('   (no reproduction)');
    continue;
  }
  const how = f.reproduced ? 'shows it again alone, shrunk' : 'as generated, NOT confirmed alone (timing or another stream)';
  console.log(`   reproduction (${f.repro.length} connection(s), one after the other; ${how}; --seed ${report.seed}):`);
  for (const s of f.repro) {
    console.log(`   // ${s.name}${s.cut ? `, cut at byte ${s.cut.at} (${s.cut.how})` : ''}`);
    for (const r of s.requests) console.log(`   //   ${describe(r)}`);
    console.log(`   ${literal(s.bytes)}`);
  }
  if (save) console.log(`   saved: ${saveRegression({ title: `${f.kind}: ${f.detail} (seed ${report.seed})`, streams: f.repro }, `${f.kind.toLowerCase()}-${report.seed}-${n + 1}`)}`);
}
process.exitCode = report.findings.length > 0 ? 1 : 0;
