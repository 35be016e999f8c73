import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test-support/resources';
import { readControlToken, resolveControlToken } from '../src/control-token';

describe('resolveControlToken', () => {
  it('uses HANDOVER_CONTROL_TOKEN when set, without touching the disk', async () => {
    await using tmp = await tempDir('handover-token-');
    const root = tmp.path;
    const dataDir = path.join(root, 'data');
    const resolved = await resolveControlToken({ dataDir, env: { HANDOVER_CONTROL_TOKEN: '  0123456789abcdef  ' } });
    expect(resolved).toEqual({ token: '0123456789abcdef', source: 'env', file: null });
    await expect(stat(dataDir)).rejects.toThrow(/ENOENT/);
  });

  it('rejects a short HANDOVER_CONTROL_TOKEN, naming the variable', async () => {
    await using tmp = await tempDir('handover-token-');
    const root = tmp.path;
    await expect(resolveControlToken({ dataDir: root, env: { HANDOVER_CONTROL_TOKEN: 'short' } })).rejects.toThrow(
      /HANDOVER_CONTROL_TOKEN is too short \(5 characters\): use at least 16/,
    );
  });

  it('generates a private token file in a private directory, then reuses it', async () => {
    await using tmp = await tempDir('handover-token-');
    const root = tmp.path;
    const dataDir = path.join(root, 'nested', '.handover');
    const first = await resolveControlToken({ dataDir, env: {} });
    expect(first.source).toBe('generated');
    expect(first.file).toBe(path.join(dataDir, 'control-token'));
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes, base64url
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(first.file!)).mode & 0o777).toBe(0o600);
    expect((await readFile(first.file!, 'utf8')).trim()).toBe(first.token);
    expect(await readdir(dataDir)).toEqual(['control-token']); // no temporary file left

    const second = await resolveControlToken({ dataDir, env: {} });
    expect(second).toEqual({ token: first.token, source: 'file', file: first.file });
  });

  it('makes an existing token file private again', async () => {
    await using tmp = await tempDir('handover-token-');
    const root = tmp.path;
    const file = path.join(root, 'control-token');
    await writeFile(file, 'a-token-that-is-long-enough\n');
    await chmod(file, 0o644);
    const resolved = await resolveControlToken({ dataDir: root, env: {} });
    expect(resolved).toEqual({ token: 'a-token-that-is-long-enough', source: 'file', file });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('refuses an empty token file with advice', async () => {
    await using tmp = await tempDir('handover-token-');
    const root = tmp.path;
    await writeFile(path.join(root, 'control-token'), '\n');
    await expect(resolveControlToken({ dataDir: root, env: {} })).rejects.toThrow(/empty or too short: delete the file/);
  });

  it('agrees on one token when several processes start at once', async () => {
    await using tmp = await tempDir('handover-token-');
    const root = tmp.path;
    const dataDir = path.join(root, 'race');
    const results = await Promise.all(Array.from({ length: 8 }, () => resolveControlToken({ dataDir, env: {} })));
    const tokens = new Set(results.map((r) => r.token));
    expect(tokens.size).toBe(1);
    expect(results.filter((r) => r.source === 'generated')).toHaveLength(1);
    expect(await readdir(dataDir)).toEqual(['control-token']);
  });
});

describe('readControlToken', () => {
  it('reads the environment first, then the file', async () => {
    await using tmp = await tempDir('handover-token-');
    const root = tmp.path;
    expect(await readControlToken({ dataDir: root, env: { HANDOVER_CONTROL_TOKEN: 'x'.repeat(20) } })).toEqual({
      token: 'x'.repeat(20),
      source: 'env',
      file: null,
    });
    const generated = await resolveControlToken({ dataDir: root, env: {} });
    expect(await readControlToken({ dataDir: root, env: {} })).toEqual({ ...generated, source: 'file' });
  });

  it('never generates a token and says how to start the supervisor', async () => {
    await using tmp = await tempDir('handover-token-');
    const root = tmp.path;
    const dataDir = path.join(root, 'empty');
    await mkdir(dataDir);
    await expect(readControlToken({ dataDir, env: {} })).rejects.toThrow(
      'no running supervisor found: start it with `npx handover start`, or set HANDOVER_CONTROL_TOKEN',
    );
    expect(await readdir(dataDir)).toEqual([]);
  });
});
