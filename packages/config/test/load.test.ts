import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test-support/resources';
import { ConfigError, loadConfig, locateJsonError } from '../src/index';

const repoRoot = path.resolve(__dirname, '../../..');

const minimal = { pools: [{ name: 'web', command: 'node server.js', basePort: 9000, sessionCookie: 'sid' }] };

async function rejection(promise: Promise<unknown>): Promise<ConfigError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a ConfigError');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('loadConfig', () => {
  it('accepts the repository root handover.config.json', async () => {
    const config = await loadConfig({ cwd: repoRoot, env: {} });
    expect(config.configPath).toBe(path.join(repoRoot, 'handover.config.json'));
    expect(config.proxy).toEqual({ host: '127.0.0.1', port: 8080, trustForwarded: false, timeouts: {}, limits: {} });
    expect(config.control).toEqual({ host: '127.0.0.1', port: 8090 });
    expect(config.dataDir).toBe(path.join(repoRoot, '.handover'));
    expect(config.pools).toHaveLength(1);
    expect(config.pools[0]).toMatchObject({
      name: 'web',
      command: 'node apps/demo/server.mjs',
      cwd: repoRoot,
      basePort: 9000,
      sessionCookie: 'demo.sid',
      revision: 'v1',
      instances: 1,
    });
  });

  it('loads <cwd>/handover.config.json by default', async () => {
    await using tmp = await tempDir('handover-config-');
    const dir = tmp.path;
    await writeFile(path.join(dir, 'handover.config.json'), JSON.stringify(minimal));
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.configPath).toBe(path.join(dir, 'handover.config.json'));
    expect(config.pools[0]!.cwd).toBe(dir);
  });

  it('prefers options.path over HANDOVER_CONFIG, and HANDOVER_CONFIG over the default', async () => {
    await using tmp = await tempDir('handover-config-');
    const dir = tmp.path;
    await mkdir(path.join(dir, 'etc'));
    await writeFile(path.join(dir, 'etc', 'a.json'), JSON.stringify({ ...minimal, proxy: { port: 1001 } }));
    await writeFile(path.join(dir, 'etc', 'b.json'), JSON.stringify({ ...minimal, proxy: { port: 1002 } }));
    const env = { HANDOVER_CONFIG: 'etc/b.json' };
    expect((await loadConfig({ cwd: dir, env })).proxy.port).toBe(1002);
    const fromPath = await loadConfig({ cwd: dir, env, path: 'etc/a.json' });
    expect(fromPath.proxy.port).toBe(1001);
    expect(fromPath.dataDir).toBe(path.join(dir, 'etc', '.handover'));
  });

  it('says which path it looked for and how to pass --config when the file is missing', async () => {
    await using tmp = await tempDir('handover-config-');
    const dir = tmp.path;
    const err = await rejection(loadConfig({ cwd: dir, env: {} }));
    const expected = path.join(dir, 'handover.config.json');
    expect(err.file).toBe(expected);
    expect(err.message).toContain(`looked for ${expected}`);
    expect(err.message).toContain('--config');
    expect(err.message).toContain('HANDOVER_CONFIG');
    const viaEnv = await rejection(loadConfig({ cwd: dir, env: { HANDOVER_CONFIG: 'nope.json' } }));
    expect(viaEnv.message).toContain('from HANDOVER_CONFIG');
  });

  it('reports a directory given as the config', async () => {
    await using tmp = await tempDir('handover-config-');
    const dir = tmp.path;
    const err = await rejection(loadConfig({ cwd: dir, env: {}, path: '.' }));
    expect(err.message).toContain('is a directory');
  });

  it('reports invalid JSON with the file, line and column', async () => {
    await using tmp = await tempDir('handover-config-');
    const dir = tmp.path;
    const file = path.join(dir, 'handover.config.json');
    await writeFile(file, '{\n  "pools": [\n    { "name": "web", },\n  ]\n}\n');
    const err = await rejection(loadConfig({ cwd: dir, env: {} }));
    expect(err.file).toBe(file);
    expect(err.message).toContain(file);
    expect(err.message).toContain('line 3, column 22: trailing comma');
  });

  it('reads revisionFile relative to the config file, trimmed', async () => {
    await using tmp = await tempDir('handover-config-');
    const dir = tmp.path;
    await mkdir(path.join(dir, 'conf'));
    await writeFile(path.join(dir, 'conf', 'REVISION'), 'release-42\n');
    await writeFile(
      path.join(dir, 'conf', 'handover.config.json'),
      JSON.stringify({ pools: [{ ...minimal.pools[0], revisionFile: 'REVISION' }] }),
    );
    const config = await loadConfig({ cwd: dir, env: {}, path: 'conf/handover.config.json' });
    expect(config.pools[0]!.revision).toBe('release-42');
  });

  it('reports a missing revisionFile by field', async () => {
    await using tmp = await tempDir('handover-config-');
    const dir = tmp.path;
    await writeFile(path.join(dir, 'handover.config.json'), JSON.stringify({ pools: [{ ...minimal.pools[0], revisionFile: 'NOPE' }] }));
    const err = await rejection(loadConfig({ cwd: dir, env: {} }));
    expect(err.issues).toEqual([{ path: 'pools[0].revisionFile', message: `file not found: ${path.join(dir, 'NOPE')}` }]);
  });

  it('applies environment overrides from options.env', async () => {
    await using tmp = await tempDir('handover-config-');
    const dir = tmp.path;
    await writeFile(path.join(dir, 'handover.config.json'), JSON.stringify(minimal));
    const config = await loadConfig({ cwd: dir, env: { HANDOVER_PROXY_PORT: '18080', HANDOVER_DATA_DIR: '/tmp/h' } });
    expect(config.proxy.port).toBe(18080);
    expect(config.dataDir).toBe('/tmp/h');
  });

  it('accepts a byte-order mark', async () => {
    await using tmp = await tempDir('handover-config-');
    const dir = tmp.path;
    await writeFile(path.join(dir, 'handover.config.json'), `\uFEFF${JSON.stringify(minimal)}`);
    await expect(loadConfig({ cwd: dir, env: {} })).resolves.toBeTruthy();
  });
});

describe('locateJsonError', () => {
  const at = (text: string) => locateJsonError(text);
  it('returns null for valid JSON', () => {
    expect(at('{"a": [1, -2.5e3, "x\\n\\u00e9", true, false, null, {}]}')).toBeNull();
  });
  it('finds common mistakes with line and column', () => {
    expect(at('{\n  "a": 1,\n}')).toEqual({ line: 3, column: 1, message: 'trailing comma (JSON allows none)' });
    expect(at('[1,]')).toEqual({ line: 1, column: 4, message: 'trailing comma (JSON allows none)' });
    expect(at('{\n  // note\n  "a": 1\n}')).toEqual({ line: 2, column: 3, message: 'comments are not allowed in JSON (expected a property name in double quotes)' });
    expect(at("{'a': 1}")!.message).toContain('strings must use double quotes');
    expect(at('{"a" 1}')).toMatchObject({ line: 1, column: 6, message: 'unexpected "1" (expected ":")' });
    expect(at('{"a": 1 "b": 2}')).toMatchObject({ column: 9, message: 'unexpected "\\"" (expected "," or "}")' });
    expect(at('{"a": "x')).toMatchObject({ message: 'unterminated string' });
    expect(at('{"a": ')).toMatchObject({ message: 'unexpected end of file (expected a value)' });
    expect(at('{} x')).toMatchObject({ column: 4, message: 'unexpected "x" after the end of the JSON value' });
    expect(at('')).toMatchObject({ line: 1, column: 1, message: 'unexpected end of file (expected a value)' });
    expect(at('{"a": tru}')).toMatchObject({ column: 7 });
  });
});
