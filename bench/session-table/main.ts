/**
 * Session-table scale benchmark: 1,000,000 sessions across 4 workers.
 *
 *   npm run bench:sessions -w @handover/bench [-- --sessions N] [--json]
 *   (node --expose-gc --import tsx session-table/main.ts)
 *
 * 1. Memory per session: heapUsed after gc, before and after binding N sessions whose ids are
 *    made the way the proxy makes them (parseSessionReport on an X-Handover-Session value), and
 *    for comparison with flat 22-char ids.
 * 2. Routing lookup cost (ns/op) at 1k, 10k, 100k and 1M sessions, random and sequential order,
 *    with lookup keys that are other string objects than the stored ones (as from a Cookie header).
 * 3. Bind and unbind cost, and what unbinding leaves on the heap.
 * 4. Idle expiry of N sessions with the supervisor's budgeted sweep (20,000 per call) from a
 *    setImmediate loop, measuring event-loop delay with monitorEventLoopDelay.
 */
import { randomBytes } from 'node:crypto';
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { findCookie, parseSessionReport } from '@handover/proxy';
import { SessionTable } from '@handover/session-table';
import { fmt, summarize, table } from '../soak/stats';
import { Lease } from '@handover/process-table';

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    sessions: { type: 'string', default: '1000000' },
    workers: { type: 'string', default: '4' },
    budget: { type: 'string', default: '20000,5000' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(args.sessions);
const WORKERS = Number(args.workers);
const BUDGETS = String(args.budget).split(',').map(Number);
const TTL_MS = 30 * 60 * 1000;
const MEMORY_TARGET = 200;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc (npm run bench:sessions -w @handover/bench)');
  process.exit(2);
}

function heapUsed(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}

interface Owner {
  id: string;
  lease: Lease;
  draining: boolean;
}
const owners: Owner[] = Array.from({ length: WORKERS }, (_, i) => ({ id: `web@${i}`, lease: new Lease(), draining: false }));

/** A controllable clock for the table (so expiry needs no waiting); real time for measurements. */
let fakeNow = Date.now();
const clock = () => fakeNow;
let released = 0;
const newTable = () =>
  new SessionTable<Owner>({
    now: clock,
    // What the supervisor does on release: look at the owner's draining flag.
    onRelease: (owner) => {
      if (owner.draining) released++;
    },
  });

/** n random 128-bit ids as 22-char base64url strings, each its own flat string. */
function flatIds(n: number): string[] {
  const bytes = randomBytes(16 * n);
  const ids = new Array<string>(n);
  for (let i = 0; i < n; i++) ids[i] = bytes.toString('base64url', i * 16, i * 16 + 16);
  return ids;
}

/**
 * The header value a worker sends (`<id>; ttl=1800`), as the HTTP parser hands it over: one
 * flat string per response.
 */
function reportHeaders(ids: readonly string[]): string[] {
  return ids.map((id) => Buffer.from(`${id}; ttl=1800`, 'latin1').toString('latin1'));
}

const results: Record<string, unknown> = { sessions: N, workers: WORKERS, budgets: BUDGETS, node: process.version };
const log = (line: string) => {
  if (!args.json) console.log(line);
};

// ---- 1. memory per session -----------------------------------------------------------------
// Baseline the ids alone: what a 22-char id string costs on this heap.
{
  const base = heapUsed();
  let ids: string[] | null = flatIds(N);
  const withIds = heapUsed();
  results.idStringBytes = (withIds - base) / N - 8; // minus the array slot
  ids.length = 0;
  ids = null;
}

function measureMemory(kind: 'proxy' | 'flat') {
  const base = heapUsed();
  const ids = flatIds(N);
  const headers = kind === 'proxy' ? reportHeaders(ids) : undefined;
  const t = newTable();
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    const id = headers ? (parseSessionReport(headers[i] as string)[0] as { id: string }).id : (ids[i] as string);
    t.bind(id, owners[i % WORKERS] as Owner, TTL_MS);
  }
  const bindNs = ((performance.now() - start) * 1e6) / N;
  ids.length = 0;
  if (headers) headers.length = 0;
  const after = heapUsed();
  return { table: t, bytesPerSession: (after - base) / N, bindNs, base };
}

const proxyMemory = measureMemory('proxy');
log(`memory: ${fmt(proxyMemory.bytesPerSession, 1)} bytes/session with ids as the proxy parses them (bind ${fmt(proxyMemory.bindNs, 0)} ns/op incl. parsing)`);
results.memoryProxyIds = { bytesPerSession: proxyMemory.bytesPerSession, bindNsIncludingParse: proxyMemory.bindNs };

// ---- 3. unbind, and what it leaves behind ----------------------------------------------------
{
  const t = proxyMemory.table;
  const base = proxyMemory.base;
  const all = owners.flatMap((o) => t.idsOf(o));
  const start = performance.now();
  for (let i = 0; i < all.length; i++) t.unbind(all[i] as string);
  const unbindNs = ((performance.now() - start) * 1e6) / all.length;
  all.length = 0;
  const left = heapUsed();
  const leftPerSession = (left - base) / N;
  log(`unbind: ${fmt(unbindNs, 0)} ns/op; after unbinding all ${N.toLocaleString('en')}: size ${t.size}, heap still held ≈ ${fmt(leftPerSession, 1)} bytes/session (stale expiry-bucket filings until their bucket is due)`);
  results.unbind = { nsPerOp: unbindNs, sizeAfter: t.size, heapHeldAfterUnbindBytesPerSession: leftPerSession };
  // Let the buckets come due: a sweep drops the stale filings.
  fakeNow += TTL_MS + 5_000;
  const sweepStart = performance.now();
  t.sweep();
  const sweepMs = performance.now() - sweepStart;
  const afterSweep = heapUsed();
  results.unbind = { ...(results.unbind as object), staleSweepMs: sweepMs, heapAfterSweepBytesPerSession: (afterSweep - base) / N };
  log(`        a sweep once their buckets were due dropped the stale filings in ${fmt(sweepMs, 0)} ms; heap held after it ≈ ${fmt((afterSweep - base) / N, 1)} bytes/session`);
}
proxyMemory.table = null as unknown as SessionTable<Owner>;
for (const o of owners) o.lease = new Lease();

const flatMemory = measureMemory('flat');
log(`memory: ${fmt(flatMemory.bytesPerSession, 1)} bytes/session with flat ids (bind ${fmt(flatMemory.bindNs, 0)} ns/op); one 22-char id string alone: ${fmt(results.idStringBytes as number, 1)} bytes`);
results.memoryFlatIds = { bytesPerSession: flatMemory.bytesPerSession, bindNs: flatMemory.bindNs };
flatMemory.table = null as unknown as SessionTable<Owner>;
for (const o of owners) o.lease = new Lease();

// ---- 2. lookup cost at 1k … 1M -----------------------------------------------------------------
// Each lookup key is another string object than the stored id (found in a Cookie header, as the
// proxy does), laid out in the order the lookups use them, so the benchmark's own key reads are
// sequential and what is measured is the table. A plain Map<string, Owner> with the same ids and
// keys is the floor: the table's lookup adds a clock read and an expiry check to one Map.get.
const LOOKUPS = 1_000_000;
const lookupRows: Array<{ size: number; randomNs: number; sequentialNs: number; mapRandomNs: number; mapSequentialNs: number }> = [];
for (const size of [1_000, 10_000, 100_000, 1_000_000].filter((s) => s <= N)) {
  const t = newTable();
  const plain = new Map<string, Owner>();
  let ids: string[] | null = flatIds(size);
  for (let i = 0; i < size; i++) {
    t.bind(ids[i] as string, owners[i % WORKERS] as Owner, TTL_MS);
    plain.set(ids[i] as string, owners[i % WORKERS] as Owner);
  }
  const keysFor = (random: boolean): string[] => {
    const keys = new Array<string>(LOOKUPS);
    let x = 12345;
    for (let i = 0; i < LOOKUPS; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const id = (ids as string[])[random ? x % size : i % size] as string;
      keys[i] = findCookie(Buffer.from(`theme=dark; demo.sid=${id}; lang=en`, 'latin1').toString('latin1'), 'demo.sid') as string;
    }
    return keys;
  };
  const timeIt = (keys: string[], get: (key: string) => Owner | undefined): number => {
    let found = 0;
    const start = performance.now();
    for (let i = 0; i < keys.length; i++) if (get(keys[i] as string) !== undefined) found++;
    const ns = ((performance.now() - start) * 1e6) / keys.length;
    if (found !== keys.length) throw new Error(`lookup missed ${keys.length - found} sessions`);
    return ns;
  };
  const tableGet = (key: string) => t.lookup(key);
  const mapGet = (key: string) => plain.get(key);
  const row = { size, randomNs: Infinity, sequentialNs: Infinity, mapRandomNs: Infinity, mapSequentialNs: Infinity };
  for (const random of [true, false]) {
    let keys: string[] | null = keysFor(random);
    timeIt(keys, tableGet); // warm-up: hashes the keys, optimizes the loop
    timeIt(keys, mapGet);
    for (let r = 0; r < 3; r++) {
      const a = timeIt(keys, tableGet);
      const b = timeIt(keys, mapGet);
      if (random) {
        row.randomNs = Math.min(row.randomNs, a);
        row.mapRandomNs = Math.min(row.mapRandomNs, b);
      } else {
        row.sequentialNs = Math.min(row.sequentialNs, a);
        row.mapSequentialNs = Math.min(row.mapSequentialNs, b);
      }
    }
    keys = null;
  }
  ids = null;
  lookupRows.push(row);
  log(
    `lookup at ${size.toLocaleString('en')} sessions: ${fmt(row.randomNs, 1)} ns/op random order (plain Map.get ${fmt(row.mapRandomNs, 1)}), ` +
      `${fmt(row.sequentialNs, 1)} ns/op in insertion order (plain Map.get ${fmt(row.mapSequentialNs, 1)})`,
  );
  for (const o of owners) o.lease = new Lease();
}
results.lookup = lookupRows;

// ---- 4. idle expiry of N sessions with the budgeted sweep --------------------------------------
async function expiryRun(spreadMs: number, budget: number) {
  const t = newTable();
  let ids: string[] | null = flatIds(N);
  const bindAt = Date.now();
  fakeNow = bindAt;
  for (let i = 0; i < N; i++) {
    // Sessions touched over `spreadMs`: expiries spread over that many ms (0 = all at once, the worst case).
    fakeNow = bindAt + (spreadMs * i) / N;
    t.bind(ids[i] as string, owners[i % WORKERS] as Owner, TTL_MS);
  }
  ids = null;
  for (const o of owners) o.draining = true;
  released = 0;
  heapUsed();
  // Every session is past its idle timeout now.
  fakeNow = bindAt + spreadMs + TTL_MS + 2_000;
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  // GC pauses during the sweep, to tell them from the sweep's own work.
  const gcPauses: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcPauses.push(entry.duration);
  });
  observer.observe({ entryTypes: ['gc'] });
  const callMs: number[] = [];
  /** CPU time of each call (all of the process's threads): tells the table's work from being descheduled. */
  const callCpuMs: number[] = [];
  let expired = 0;
  const start = performance.now();
  histogram.enable();
  await new Promise<void>((resolve) => {
    const step = () => {
      const s = performance.now();
      const cpu = process.cpuUsage();
      const result = t.sweep(budget, 2); // as the supervisor sweeps: 5,000 entries or 2 ms per slice
      callMs.push(performance.now() - s);
      const used = process.cpuUsage(cpu);
      callCpuMs.push((used.user + used.system) / 1000);
      expired += result.expired;
      if (result.done && t.size === 0) return resolve();
      setImmediate(step);
    };
    setImmediate(step);
  });
  const totalMs = performance.now() - start;
  histogram.disable();
  await new Promise((r) => setTimeout(r, 10));
  observer.disconnect();
  for (const o of owners) o.draining = false;
  const calls = summarize(callMs);
  const row = {
    spreadMs,
    budget,
    expired,
    sizeAfter: t.size,
    ownersAfter: owners.map((o) => o.lease.sessions),
    releaseCallbacks: released,
    totalMs,
    sweepCalls: callMs.length,
    sweepCallMs: { p50: calls.p50, p99: calls.p99, max: calls.max },
    sweepCallCpuMs: (() => {
      const c = summarize(callCpuMs);
      return { p50: c.p50, p99: c.p99, max: c.max };
    })(),
    /** The longest call, its CPU time next to its wall time. */
    slowestCall: (() => {
      const i = callMs.indexOf(Math.max(...callMs));
      return { index: i, wallMs: callMs[i], cpuMs: callCpuMs[i] };
    })(),
    gcPausesMs: { count: gcPauses.length, total: gcPauses.reduce((a, b) => a + b, 0), max: Math.max(0, ...gcPauses) },
    eventLoopDelayMs: { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 },
    /** With the supervisor's cadence (one sweep(20,000) per second) this takes as many seconds as there are calls. */
    atSupervisorCadenceS: callMs.length,
  };
  for (const o of owners) o.lease = new Lease();
  return row;
}

const expiry = [];
for (const budget of BUDGETS) for (const spread of [0, 60_000]) expiry.push(await expiryRun(spread, budget));
results.expiry = expiry;
for (const e of expiry) {
  log(
    `expiry of ${e.expired.toLocaleString('en')} sessions (${e.spreadMs === 0 ? 'all idle since the same moment' : `last touches spread over ${e.spreadMs / 1000} s`}): ` +
      `${fmt(e.totalMs, 0)} ms in ${e.sweepCalls} sweep(${e.budget}) calls; one call p50 ${fmt(e.sweepCallMs.p50, 2)} / p99 ${fmt(e.sweepCallMs.p99, 2)} / max ${fmt(e.sweepCallMs.max, 2)} ms; ` +
      `event-loop delay p99 ${fmt(e.eventLoopDelayMs.p99, 2)} / max ${fmt(e.eventLoopDelayMs.max, 2)} ms; ` +
      `slowest call ${fmt(e.slowestCall.wallMs ?? NaN, 1)} ms wall / ${fmt(e.slowestCall.cpuMs ?? NaN, 1)} ms CPU (call #${e.slowestCall.index}); ` +
      `CPU per call p50 ${fmt(e.sweepCallCpuMs.p50, 2)} / p99 ${fmt(e.sweepCallCpuMs.p99, 2)} / max ${fmt(e.sweepCallCpuMs.max, 2)} ms; ` +
      `GC ${e.gcPausesMs.count} pauses, max ${fmt(e.gcPausesMs.max, 1)} ms; left ${e.sizeAfter}, owners ${e.ownersAfter.join('/')}`,
  );
}

// ---- summary ----------------------------------------------------------------------------------
const worstExpiry = Math.max(...expiry.map((e) => e.eventLoopDelayMs.max));
const lookupSpread = Math.max(...lookupRows.map((r) => r.randomNs)) / Math.min(...lookupRows.map((r) => r.randomNs));
results.targets = {
  memoryBytesPerSession: { target: MEMORY_TARGET, measured: proxyMemory.bytesPerSession, met: proxyMemory.bytesPerSession <= MEMORY_TARGET },
  lookupFlat: { randomMaxOverMin: lookupSpread },
  expiryEventLoopMaxMs: { measured: worstExpiry },
};
if (args.json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  console.log('');
  console.log(
    table(
      ['sessions', 'lookup ns/op, random', 'Map.get, random', 'lookup ns/op, insertion order', 'Map.get, insertion order'],
      lookupRows.map((r) => [r.size.toLocaleString('en'), fmt(r.randomNs, 1), fmt(r.mapRandomNs, 1), fmt(r.sequentialNs, 1), fmt(r.mapSequentialNs, 1)]),
    ),
  );
  console.log('');
  console.log(
    `memory per session: ${fmt(proxyMemory.bytesPerSession, 1)} bytes (ids as the proxy parses them), ${fmt(flatMemory.bytesPerSession, 1)} bytes (flat ids); target ≤ ${MEMORY_TARGET}: ` +
      (proxyMemory.bytesPerSession <= MEMORY_TARGET ? 'met' : `MISSED by ${fmt(proxyMemory.bytesPerSession - MEMORY_TARGET, 1)} bytes`),
  );
}
