/**
 * The SQLite files in the data directory (the store with the process table and the session ids,
 * the event log with who did what) are private to the supervisor's user, like the secrets beside
 * them: 0600, SQLite's -wal and -shm included, whatever the umask and whatever an older version left.
 */
import { statSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AsyncResource, asyncResource, disposer, tempDir } from '../../../test-support/resources';
import { EventLog } from '../src/event-log';
import { StateStore } from '../src/state-store';

/** A temp directory under the usual umask (files come out 0644 unless made private on purpose). */
async function privateTest(): Promise<AsyncResource<{ dir: string }>> {
  const tmp = await tempDir('handover-private-');
  const umask = process.umask(0o022);
  return asyncResource({ dir: tmp.path }, async () => {
    process.umask(umask);
    await tmp[Symbol.asyncDispose]();
  });
}

const modeOf = (dir: string, file: string) => (statSync(join(dir, file)).mode & 0o777).toString(8);

/** A store that has written to state.db; closed on dispose. */
async function writeToStore(dir: string): Promise<AsyncResource<StateStore>> {
  const store = new StateStore(join(dir, 'state.db'));
  store.startFlushing();
  store.setNextGeneration('web', 1);
  await store.drain();
  return asyncResource(store, () => store.close());
}

describe('private SQLite files', () => {
  it('state.db and its -wal and -shm are 0600', async () => {
    await using t = await privateTest();
    await using _store = await writeToStore(t.dir);
    expect([modeOf(t.dir, 'state.db'), modeOf(t.dir, 'state.db-wal'), modeOf(t.dir, 'state.db-shm')]).toEqual(['600', '600', '600']);
  });

  it('state.db files an older version left readable (0644) are made 0600 at the next start', async () => {
    await using t = await privateTest();
    {
      await using _older = await writeToStore(t.dir);
    }
    for (const file of ['state.db', 'state.db-wal', 'state.db-shm']) await chmod(join(t.dir, file), 0o644).catch(() => undefined);
    await using _store = await writeToStore(t.dir);
    expect([modeOf(t.dir, 'state.db'), modeOf(t.dir, 'state.db-wal'), modeOf(t.dir, 'state.db-shm')]).toEqual(['600', '600', '600']);
  });

  it('the event log handover.db and its -wal and -shm are 0600', async () => {
    await using t = await privateTest();
    const events = new EventLog(join(t.dir, 'handover.db'));
    await using _events = disposer(() => events.close());
    events.record({ type: 'action', actor: 'test', message: 'hello' });
    expect([modeOf(t.dir, 'handover.db'), modeOf(t.dir, 'handover.db-wal'), modeOf(t.dir, 'handover.db-shm')]).toEqual(['600', '600', '600']);
  });
});
