/**
 * The SQLite files in the data directory (the store with the process table and the session ids,
 * the event log with who did what) are private to the supervisor's user, like the secrets beside
 * them: 0600, SQLite's -wal and -shm included, whatever the umask and whatever an older version left.
 */
import { statSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLog } from '../src/event-log';
import { StateStore } from '../src/state-store';

let dir: string;
let umask: number;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'handover-private-'));
  // The usual umask: files come out 0644 unless made private on purpose.
  umask = process.umask(0o022);
});
afterEach(async () => {
  process.umask(umask);
  await rm(dir, { recursive: true, force: true });
});

const modeOf = (file: string) => (statSync(join(dir, file)).mode & 0o777).toString(8);

async function writeToStore(): Promise<StateStore> {
  const store = new StateStore(join(dir, 'state.db'));
  store.startFlushing();
  store.setNextGeneration('web', 1);
  await store.drain();
  return store;
}

describe('private SQLite files', () => {
  it('state.db and its -wal and -shm are 0600', async () => {
    const store = await writeToStore();
    try {
      expect([modeOf('state.db'), modeOf('state.db-wal'), modeOf('state.db-shm')]).toEqual(['600', '600', '600']);
    } finally {
      await store.close();
    }
  });

  it('state.db files an older version left readable (0644) are made 0600 at the next start', async () => {
    await (await writeToStore()).close();
    for (const file of ['state.db', 'state.db-wal', 'state.db-shm']) await chmod(join(dir, file), 0o644).catch(() => undefined);
    const store = await writeToStore();
    try {
      expect([modeOf('state.db'), modeOf('state.db-wal'), modeOf('state.db-shm')]).toEqual(['600', '600', '600']);
    } finally {
      await store.close();
    }
  });

  it('the event log handover.db and its -wal and -shm are 0600', () => {
    const events = new EventLog(join(dir, 'handover.db'));
    try {
      events.record({ type: 'action', actor: 'test', message: 'hello' });
      expect([modeOf('handover.db'), modeOf('handover.db-wal'), modeOf('handover.db-shm')]).toEqual(['600', '600', '600']);
    } finally {
      events.close();
    }
  });
});
