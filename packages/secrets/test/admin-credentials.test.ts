import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test-support/resources';
import { readAdminCredentials, resolveAdminCredentials, resolveSessionSecret, verifyPassword } from '../src/index';

describe('admin credentials', () => {
  it('takes user and password from the environment', async () => {
    await using tmp = await tempDir('handover-secrets-');
    const dataDir = join(tmp.path, 'data');
    const env = { HANDOVER_ADMIN_USER: 'ops', HANDOVER_ADMIN_PASSWORD: 'correct horse' };
    const credentials = await resolveAdminCredentials({ dataDir, env });
    expect(credentials).toMatchObject({ user: 'ops', password: 'correct horse', source: 'env', file: null });
    expect(await verifyPassword(credentials.verifier, 'correct horse')).toBe(true);
    expect(await verifyPassword(credentials.verifier, 'correct horsE')).toBe(false);
  });

  it('generates a password once, keeps only its hash in a private file, and shows it only then', async () => {
    await using tmp = await tempDir('handover-secrets-');
    const dataDir = join(tmp.path, 'data');
    expect(await readAdminCredentials({ dataDir, env: {} })).toBeNull();
    const first = await resolveAdminCredentials({ dataDir, env: {} });
    expect(first).toMatchObject({ user: 'admin', source: 'generated' });
    const password = first.password!;
    expect(password.length).toBeGreaterThanOrEqual(16);
    expect((await stat(first.file!)).mode & 0o777).toBe(0o600);
    const stored = await readFile(first.file!, 'utf8');
    expect(stored).toMatch(/^scrypt\$/);
    expect(stored).not.toContain(password);

    const again = await resolveAdminCredentials({ dataDir, env: {} });
    expect(again).toMatchObject({ password: null, source: 'file' });
    expect(await verifyPassword(again.verifier, password)).toBe(true);
    expect(await verifyPassword(again.verifier, `${password}x`)).toBe(false);
    const read = await readAdminCredentials({ dataDir, env: {} });
    expect(await verifyPassword(read!.verifier, password)).toBe(true);
  });

  it('replaces a password file written in clear by its hash', async () => {
    await using tmp = await tempDir('handover-secrets-');
    const dataDir = join(tmp.path, 'data');
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, 'admin-password'), 'typed-by-hand-123\n', { mode: 0o600 });
    const credentials = await readAdminCredentials({ dataDir, env: {} });
    expect(await verifyPassword(credentials!.verifier, 'typed-by-hand-123')).toBe(true);
    expect(await readFile(join(dataDir, 'admin-password'), 'utf8')).toMatch(/^scrypt\$/);
  });

  it('refuses a short password or a strange user name, naming the variable', async () => {
    await using tmp = await tempDir('handover-secrets-');
    const dataDir = join(tmp.path, 'data');
    await expect(resolveAdminCredentials({ dataDir, env: { HANDOVER_ADMIN_PASSWORD: 'short' } })).rejects.toThrow(/HANDOVER_ADMIN_PASSWORD/);
    await expect(resolveAdminCredentials({ dataDir, env: { HANDOVER_ADMIN_USER: 'a b' } })).rejects.toThrow(/HANDOVER_ADMIN_USER/);
  });

  it('keeps one session key across calls, or takes it from the environment', async () => {
    await using tmp = await tempDir('handover-secrets-');
    const dataDir = join(tmp.path, 'data');
    const key = await resolveSessionSecret({ dataDir, env: {} });
    expect(key.length).toBeGreaterThanOrEqual(32);
    expect(await resolveSessionSecret({ dataDir, env: {} })).toBe(key);
    const fromEnv = 'x'.repeat(40);
    expect(await resolveSessionSecret({ dataDir, env: { HANDOVER_SESSION_SECRET: fromEnv } })).toBe(fromEnv);
  });
});
