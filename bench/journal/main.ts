/**
 * Session journal benchmark: what a new session costs the state store (docs/BENCHMARKS.md §7).
 *
 *   npm run bench:journal -w @handover/bench [-- --sessions 300000 --prefill 0,300000 --json]
 *   (node --import tsx journal/main.ts [--store <path to another tree's state-store.ts>])
 *
 * For each prefill size: a fresh state.db holding that many sessions, then `--sessions` new ones
 * bound 1,000 per flush (5,000 new sessions/s at the 200 ms flush interval) and waited for. The
 * figure is the process's CPU (both threads: building and posting the batches on the event
 * loop, applying them on the writer thread) per new session; wall time per session beside it.
 * `--store` runs another tree's StateStore with the same driver, for before/after figures
 * (interleave the runs: this VM's speed drifts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    sessions: { type: 'string', default: '300000' },
    prefill: { type: 'string', default: '0,300000' },
    store: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

interface Store {
  bound(id: string, owner: { id: string; state: string }, ttlMs: number): void;
  drain(): Promise<void>;
  close(): Promise<void>;
  stats: { errors: string[]; maxWriteMs: number };
}
type StoreClass = new (file: string) => Store;

const modulePath = args.store === undefined ? new URL('../../apps/supervisor/src/state-store.ts', import.meta.url).href : pathToFileURL(resolve(args.store)).href;
const { StateStore } = (await import(modulePath)) as { StateStore: StoreClass };

const BATCH = 1000;
const owners = [0, 1, 2, 3].map((g) => ({ id: `web@${g}`, state: 'started' }));
/** Ids as a connect.sid/JSESSIONID-like cookie value would be: random, ~80 characters. */
const newId = () => `s%3A${randomBytes(24).toString('base64url')}.${randomBytes(32).toString('base64url')}`;

async function bindAll(store: Store, ids: readonly string[]): Promise<void> {
  for (let done = 0; done < ids.length; done += BATCH) {
    for (let i = done; i < Math.min(done + BATCH, ids.length); i++) store.bound(ids[i]!, owners[i % owners.length]!, 1_800_000);
    await store.drain();
  }
}

export interface JournalResult {
  prefill: number;
  sessions: number;
  cpuUsPerSession: number;
  wallUsPerSession: number;
  /** The longest writer transaction (a fold of the log, when one came): how long the writer was busy at once. */
  longestWriteMs: number;
}

async function run(prefill: number, sessions: number): Promise<JournalResult> {
  const dir = await mkdtemp(join(tmpdir(), 'handover-journal-'));
  const store = new StateStore(join(dir, 'state.db'));
  try {
    await bindAll(store, Array.from({ length: prefill }, newId));
    const ids = Array.from({ length: sessions }, newId);
    const cpu = process.cpuUsage();
    const started = performance.now();
    await bindAll(store, ids);
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    if (store.stats.errors.length > 0) throw new Error(`the store failed: ${store.stats.errors[0]}`);
    return { prefill, sessions, cpuUsPerSession: (used.user + used.system) / sessions, wallUsPerSession: (wallMs * 1000) / sessions, longestWriteMs: store.stats.maxWriteMs };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const results: JournalResult[] = [];
for (const prefill of args.prefill.split(',').map(Number)) results.push(await run(prefill, Number(args.sessions)));
if (args.json) process.stdout.write(`${JSON.stringify(results)}\n`);
else {
  process.stdout.write(`state store: ${args.store ?? 'this tree'}\n`);
  for (const r of results) {
    process.stdout.write(
      `  ${r.prefill.toLocaleString('en')} stored, ${r.sessions.toLocaleString('en')} new: ${r.cpuUsPerSession.toFixed(1)} µs CPU, ${r.wallUsPerSession.toFixed(1)} µs wall per new session; longest writer transaction ${r.longestWriteMs.toFixed(0)} ms\n`,
    );
  }
}
