import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { type AsyncResource, asyncResource, tempDir } from '../../../test-support/resources';
import type { InstanceState } from '@handover/process-table';
import { checkProcess, processStartTime } from '../src/proc-identity';
import { StateStore, type StoredWorker } from '../src/state-store';

/** A store on state.db in a fresh temp directory; dispose closes it, then removes the directory. */
async function openStore(): Promise<AsyncResource<{ dir: string; store: StateStore }>> {
  const tmp = await tempDir('handover-store-');
  const store = new StateStore(join(tmp.path, 'state.db'));
  return asyncResource({ dir: tmp.path, store }, async () => {
    await store.close();
    await tmp[Symbol.asyncDispose]();
  });
}

function row(id: string, state: InstanceState, patch: Partial<StoredWorker> = {}): StoredWorker {
  const [pool = 'web', generation = '0'] = id.split('@');
  return {
    id,
    pool,
    generation: Number(generation),
    port: 9000 + Number(generation),
    revision: 'v1',
    state,
    pid: 1234,
    pidStartTime: '42',
    startedAt: null,
    readyAt: null,
    detachedAt: null,
    stoppedAt: null,
    updatedAt: new Date().toISOString(),
    ...patch,
  };
}

function logRows(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM session_log').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('StateStore', () => {
  it('keeps session changes in memory until a flush, then writes them (coalesced) off the event loop', async () => {
    await using opened = await openStore();
    const { store } = opened;
    const owner = { id: 'web@0', state: 'started' as InstanceState };
    store.bound('a', owner, 60_000);
    store.bound('b', owner, 60_000);
    store.bound('a', owner, 30_000);
    expect(store.load().sessions).toEqual([]);
    const before = Date.now();
    await store.drain();
    const state = store.load();
    expect(state.sessions.map((s) => [s.id, s.worker, s.ttlMs]).sort()).toEqual([
      ['a', 'web@0', 30_000],
      ['b', 'web@0', 60_000],
    ]);
    expect(state.sessions[0]!.expiresAt).toBeGreaterThanOrEqual(before + 30_000);
    expect(state.flushedAt).toBeGreaterThanOrEqual(before);
    store.released('a');
    await store.drain();
    expect(store.load().sessions.map((s) => s.id)).toEqual(['b']);
    expect(store.stats.errors).toEqual([]);
  });

  it('drops the sessions of a worker that ended, including binds still in the journal', async () => {
    await using opened = await openStore();
    const { store } = opened;
    const owner = { id: 'web@0', state: 'started' as InstanceState };
    store.saveWorker(row('web@0', 'started'));
    store.bound('a', owner, 60_000);
    await store.drain();
    expect(store.load().sessions).toHaveLength(1);
    store.bound('b', owner, 60_000);
    owner.state = 'crashed';
    store.saveWorker(row('web@0', 'crashed'));
    await store.drain();
    expect(store.load().sessions).toEqual([]);
    expect(store.load().workers).toMatchObject([{ id: 'web@0', state: 'crashed' }]);
  });

  it('the session log and its folds into the snapshot read back exactly what a plain table would hold', async () => {
    const tmp = await tempDir('handover-store-');
    await using _tmp = tmp;
    const file = join(tmp.path, 'state.db');
    // A fold every few batches: binds, re-binds to another worker, ends and worker ends land on
    // both sides of folds.
    const store = new StateStore(file, { foldMinRows: 40 });
    await using _store = asyncResource(store, () => store.close());
    const owners = ['web@0', 'web@1', 'web@2'].map((id) => ({ id, state: 'started' as InstanceState }));
    for (const owner of owners) store.saveWorker(row(owner.id, 'started'));
    const model = new Map<string, string>();
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let folds = 0;
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 25; i++) {
        const id = `s${random(60)}`;
        const owner = owners[random(2)]!; // web@2 ends below; binds go to web@0 and web@1
        if (random(4) === 0) {
          store.released(id);
          model.delete(id);
        } else {
          store.bound(id, owner, 60_000);
          model.set(id, owner.id);
        }
      }
      if (round === 10) for (let i = 0; i < 5; i++) (store.bound(`w2-${i}`, owners[2]!, 60_000), model.set(`w2-${i}`, 'web@2'));
      if (round === 20) {
        owners[2]!.state = 'stopped';
        store.saveWorker(row('web@2', 'stopped'));
        for (const [id, worker] of model) if (worker === 'web@2') model.delete(id);
      }
      await store.drain();
      if (logRows(file) === 0) folds++;
      const stored = store.load().sessions.map((s) => [s.id, s.worker]).sort();
      expect(stored, `round ${round}`).toEqual([...model].sort());
    }
    expect(folds).toBeGreaterThan(3);
    expect(store.stats.errors).toEqual([]);

    // A restart folds what is left, and reads the same from the snapshot alone.
    await store.close();
    expect(logRows(file)).toBeGreaterThan(0);
    const next = new StateStore(file);
    await using _next = asyncResource(next, () => next.close());
    next.claim();
    expect(logRows(file)).toBe(0);
    expect(next.load().sessions.map((s) => [s.id, s.worker]).sort()).toEqual([...model].sort());
  });

  it('keeps generations growing and remembers workers', async () => {
    await using opened = await openStore();
    const { store } = opened;
    store.setNextGeneration('web', 3);
    store.setNextGeneration('web', 2);
    store.saveWorker(row('web@2', 'detached', { detachedAt: '2030-01-01T00:00:00.000Z' }));
    await store.drain();
    const state = store.load();
    expect(state.nextGeneration.get('web')).toBe(3);
    expect(state.workers).toMatchObject([
      { id: 'web@2', state: 'detached', pid: 1234, pidStartTime: '42', detachedAt: '2030-01-01T00:00:00.000Z' },
    ]);
    store.deleteWorker('web@2');
    await store.drain();
    expect(store.load().workers).toEqual([]);
  });

  it('keeps a node drain across restarts until the node is ready again', async () => {
    await using opened = await openStore();
    const { store } = opened;
    expect(store.readNodeDrain()).toBeNull();
    store.saveNodeDrain({ since: '2030-01-01T00:00:00.000Z', by: 'alice' });
    await store.drain();
    // Read back from the file (a new supervisor reads it the same way at start).
    expect(store.readNodeDrain()).toEqual({ since: '2030-01-01T00:00:00.000Z', by: 'alice' });
    store.saveNodeDrain(null);
    await store.drain();
    expect(store.readNodeDrain()).toBeNull();
  });

  it('writes 100 000 session changes in slices on the writer thread', async () => {
    await using opened = await openStore();
    const { store } = opened;
    const owner = { id: 'web@0', state: 'started' as InstanceState };
    for (let i = 0; i < 100_000; i++) store.bound(`session-${i}`, owner, 60_000);
    const started = performance.now();
    await store.drain();
    const ms = performance.now() - started;
    expect(store.load().sessions).toHaveLength(100_000);
    expect(store.pendingCount).toBe(0);
    expect(store.stats.batches).toBeGreaterThanOrEqual(20);
    process.stdout.write(`[store] 100k session rows: ${ms.toFixed(0)} ms until written, longest writer transaction ${store.stats.maxWriteMs.toFixed(1)} ms\n`);
  });
});

describe('claiming the data directory', () => {
  it('refuses while another live supervisor holds it, and takes it over from a dead one', async () => {
    await using opened = await openStore();
    const { dir, store } = opened;
    const file = join(dir, 'state.db');
    const setOwner = (pid: number, startTime: string | null) => {
      const db = new Database(file);
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('supervisor', ?)").run(JSON.stringify({ pid, startTime }));
      db.close();
    };
    // The test runner's parent: alive, and not us.
    setOwner(process.ppid, processStartTime(process.ppid));
    expect(() => store.claim()).toThrow(`another supervisor (pid ${process.ppid}) is running`);
    // The same pid with another start time is another process: the old supervisor is gone.
    setOwner(process.ppid, '1');
    store.claim();
    store.claim();
  });
});

describe('process identity', () => {
  it('knows this process by pid and start time, and a different start time as a reused pid', () => {
    const startTime = processStartTime(process.pid);
    expect(startTime).toMatch(/^\d+$/);
    expect(checkProcess({ pid: process.pid, startTime })).toBe('alive');
    expect(checkProcess({ pid: process.pid, startTime: `${startTime}1` })).toBe('reused');
    expect(checkProcess({ pid: 2 ** 22 + 12345, startTime: '1' })).toBe('gone');
  });
});
