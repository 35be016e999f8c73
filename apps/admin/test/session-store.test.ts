import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SessionStore } from '../src/server/session-store';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'handover-session-store-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const NOW = Date.parse('2026-01-01T12:00:00Z');
const HOUR = 3_600_000;
let n = 0;
const file = () => path.join(dir, `sessions-${n++}`, 'console-sessions.json');

describe('the console session store', () => {
  it('a session is live until revoked; another instance on the same file (a restart, another bundle) agrees', async () => {
    const where = file();
    const a = new SessionStore(where);
    const id = await a.create('admin', NOW + HOUR, NOW);
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await a.isLive(id, 'admin', NOW)).toBe(true);

    const afterRestart = new SessionStore(where);
    expect(await afterRestart.isLive(id, 'admin', NOW)).toBe(true);
    expect(await afterRestart.isLive(id, 'alice', NOW)).toBe(false);
    expect(await afterRestart.revoke(id, NOW)).toBe(true);

    expect(await a.isLive(id, 'admin', NOW)).toBe(false);
    expect(await new SessionStore(where).isLive(id, 'admin', NOW)).toBe(false);
    expect(await a.revoke(id, NOW)).toBe(false);
  });

  it('keeps only hashes of the ids, in a private file', async () => {
    const where = file();
    const store = new SessionStore(where);
    const id = await store.create('admin', NOW + HOUR, NOW);
    const text = await readFile(where, 'utf8');
    expect(text).not.toContain(id);
    expect(JSON.parse(text)).toMatchObject({ version: 1 });
    expect((await stat(where)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(where))).mode & 0o777).toBe(0o700);
  });

  it('an absolute expiry: refused at exp, and dropped from the file on the next write', async () => {
    const where = file();
    const store = new SessionStore(where);
    const old = await store.create('admin', NOW + 1000, NOW);
    expect(await store.isLive(old, 'admin', NOW + 999)).toBe(true);
    expect(await store.isLive(old, 'admin', NOW + 1000)).toBe(false);
    await store.create('admin', NOW + 2 * HOUR, NOW + 2000);
    expect(Object.keys(JSON.parse(await readFile(where, 'utf8')).sessions)).toHaveLength(1);
    expect(await store.liveCount(NOW + 2000)).toBe(1);
  });

  it('keeps at most maxSessions (the oldest go first)', async () => {
    const store = new SessionStore(file(), { maxSessions: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await store.create('admin', NOW + HOUR, NOW + i));
    const live = await Promise.all(ids.map((id) => store.isLive(id, 'admin', NOW + 10)));
    expect(live).toEqual([false, false, true, true, true]);
  });

  it('concurrent logins and logouts in one process lose nothing', async () => {
    const where = file();
    const one = new SessionStore(where);
    const two = new SessionStore(where);
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).create('admin', NOW + HOUR, NOW)));
    expect(await one.liveCount(NOW)).toBe(20);
    await Promise.all(ids.slice(0, 10).map((id, i) => (i % 2 ? two : one).revoke(id, NOW)));
    expect(await two.liveCount(NOW)).toBe(10);
    for (const [i, id] of ids.entries()) expect(await one.isLive(id, 'admin', NOW)).toBe(i >= 10);
  });

  it('revokeAll ends every session', async () => {
    const store = new SessionStore(file());
    const id = await store.create('admin', NOW + HOUR, NOW);
    await store.create('admin', NOW + HOUR, NOW);
    expect(await store.revokeAll(NOW)).toBe(2);
    expect(await store.isLive(id, 'admin', NOW)).toBe(false);
  });

  it('fails closed: a file that is not ours means logged out (said once), an unreadable one is an error', async () => {
    const where = file();
    const warn = vi.fn();
    const store = new SessionStore(where, { warn });
    const id = await store.create('admin', NOW + HOUR, NOW);
    await writeFile(where, '{"version":1,"sessions":');
    expect(await store.isLive(id, 'admin', NOW)).toBe(false);
    expect(await store.isLive(id, 'admin', NOW)).toBe(false);
    expect(warn).toHaveBeenCalledTimes(1);
    // The next login writes a good file again.
    const fresh = await store.create('admin', NOW + HOUR, NOW);
    expect(await store.isLive(fresh, 'admin', NOW)).toBe(true);
    expect(await store.isLive(id, 'admin', NOW)).toBe(false);

    const directory = new SessionStore(dir); // a directory where the file should be
    await expect(directory.isLive(fresh, 'admin', NOW)).rejects.toThrow(/cannot read the console sessions/);
  });

  it('refuses ids of the wrong shape without reading anything', async () => {
    const store = new SessionStore(path.join(dir, 'does-not-exist', 'x.json'));
    expect(await store.isLive('short', 'admin', NOW)).toBe(false);
    expect(await store.revoke('../../etc/passwd', NOW)).toBe(false);
  });
});
