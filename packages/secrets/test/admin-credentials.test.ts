import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readAdminCredentials, resolveAdminCredentials, resolveSessionSecret } from '../src/index';

describe('admin credentials', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = join(await mkdtemp(join(tmpdir(), 'handover-secrets-')), 'data');
  });
  afterEach(async () => rm(join(dataDir, '..'), { recursive: true, force: true }));

  it('takes user and password from the environment', async () => {
    const env = { HANDOVER_ADMIN_USER: 'ops', HANDOVER_ADMIN_PASSWORD: 'correct horse' };
    expect(await resolveAdminCredentials({ dataDir, env })).toEqual({ user: 'ops', password: 'correct horse', source: 'env', file: null });
  });

  it('generates a private password file once and reads it back', async () => {
    expect(await readAdminCredentials({ dataDir, env: {} })).toBeNull();
    const first = await resolveAdminCredentials({ dataDir, env: {} });
    expect(first).toMatchObject({ user: 'admin', source: 'generated' });
    expect(first.password.length).toBeGreaterThanOrEqual(16);
    expect((await stat(first.file!)).mode & 0o777).toBe(0o600);
    expect(await resolveAdminCredentials({ dataDir, env: {} })).toMatchObject({ password: first.password, source: 'file' });
    expect(await readAdminCredentials({ dataDir, env: {} })).toMatchObject({ password: first.password });
  });

  it('refuses a short password or a strange user name, naming the variable', async () => {
    await expect(resolveAdminCredentials({ dataDir, env: { HANDOVER_ADMIN_PASSWORD: 'short' } })).rejects.toThrow(/HANDOVER_ADMIN_PASSWORD/);
    await expect(resolveAdminCredentials({ dataDir, env: { HANDOVER_ADMIN_USER: 'a b' } })).rejects.toThrow(/HANDOVER_ADMIN_USER/);
  });

  it('keeps one session key across calls, or takes it from the environment', async () => {
    const key = await resolveSessionSecret({ dataDir, env: {} });
    expect(key.length).toBeGreaterThanOrEqual(32);
    expect(await resolveSessionSecret({ dataDir, env: {} })).toBe(key);
    const fromEnv = 'x'.repeat(40);
    expect(await resolveSessionSecret({ dataDir, env: { HANDOVER_SESSION_SECRET: fromEnv } })).toBe(fromEnv);
  });
});
