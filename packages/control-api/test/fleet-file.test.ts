import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetFileError, isNodeName, readFleetFile, tokenVariable } from '../src/fleet';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'handover-fleet-file-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function fleetFile(content: unknown): Promise<string> {
  const path = join(dir, 'handover.fleet.json');
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('the fleet file', () => {
  it('reads each node with its token: the environment wins over tokenFile (relative to the file) and token', async () => {
    await writeFile(join(dir, 'b.token'), 'token-b-from-file\n');
    const path = await fleetFile({
      nodes: [
        { name: 'a', control: 'http://10.0.0.1:8090', token: 'inline-a' },
        { name: 'b', control: 'http://10.0.0.2:8090', tokenFile: 'b.token' },
        { name: 'node-c.1', control: 'https://c.example:8090', token: 'ignored' },
      ],
    });
    const nodes = await readFleetFile(path, { [tokenVariable('node-c.1')]: 'from-env' });
    expect(nodes).toEqual([
      { name: 'a', control: 'http://10.0.0.1:8090', token: 'inline-a' },
      { name: 'b', control: 'http://10.0.0.2:8090', token: 'token-b-from-file' },
      { name: 'node-c.1', control: 'https://c.example:8090', token: 'from-env' },
    ]);
    expect(tokenVariable('node-c.1')).toBe('HANDOVER_FLEET_TOKEN_NODE_C_1');
  });

  it.each([
    ['no file', null, /no fleet file at/],
    ['not JSON', '{', /is not JSON/],
    ['no nodes', { nodes: [] }, /at least one node/],
    ['a name with a slash', { nodes: [{ name: 'a/b', control: 'http://x:1', token: 't' }] }, /nodes\[0\]\.name/],
    ['a name twice', { nodes: [{ name: 'a', control: 'http://x:1', token: 't' }, { name: 'a', control: 'http://y:1', token: 't' }] }, /a appears twice/],
    ['no URL', { nodes: [{ name: 'a', control: 'x:1', token: 't' }] }, /nodes\[0\]\.control/],
    ['no token', { nodes: [{ name: 'a', control: 'http://x:1' }] }, /no token; set HANDOVER_FLEET_TOKEN_A/],
    ['a missing token file', { nodes: [{ name: 'a', control: 'http://x:1', tokenFile: 'nope' }] }, /tokenFile: cannot read nope/],
  ])('refuses %s, saying what is wrong', async (_, content, message) => {
    const path = content === null ? join(dir, 'missing.json') : await fleetFile(content);
    const read = readFleetFile(path, {});
    await expect(read).rejects.toBeInstanceOf(FleetFileError);
    await expect(read).rejects.toThrow(message);
  });

  it('node names are safe in a URL path segment', () => {
    expect(['a', 'node-1', 'eu_west.2'].every(isNodeName)).toBe(true);
    expect(['', '..', '.a', 'a/b', 'a b', '%2e', 'x'.repeat(64)].some(isNodeName)).toBe(false);
  });
});
