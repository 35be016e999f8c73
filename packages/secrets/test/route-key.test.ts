import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test-support/resources';
import { resolveRouteKey } from '../src/route-key';

describe('resolveRouteKey', () => {
  it('generates a private key once and returns the same key after a restart', async () => {
    await using tmp = await tempDir('handover-route-key-');
    const root = tmp.path;
    const first = await resolveRouteKey({ dataDir: root });
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect((await stat(path.join(root, 'route-key'))).mode & 0o777).toBe(0o600);
    const second = await resolveRouteKey({ dataDir: root });
    expect(second.equals(first)).toBe(true);
    expect((await readFile(path.join(root, 'route-key'), 'utf8')).trim()).toBe(first.toString('utf8'));
  });

  it('refuses a truncated key file and says what to do', async () => {
    await using tmp = await tempDir('handover-route-key-');
    const root = tmp.path;
    await writeFile(path.join(root, 'route-key'), 'short\n', { mode: 0o600 });
    await expect(resolveRouteKey({ dataDir: root })).rejects.toThrow(/route cookie key .* too short: delete the file and restart the supervisor/);
  });
});
