import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test-support/resources';
import { ConfigError, loadDotEnv, parseDotEnv } from '../src/index';

describe('parseDotEnv', () => {
  it('parses plain, quoted, exported and commented lines', () => {
    const text = [
      '# a comment',
      '',
      'PLAIN=value',
      'SPACED = spaced value  ',
      'export EXPORTED=yes',
      "SINGLE='literal \\n $HOME # not a comment'",
      'DOUBLE="line1\\nline2 \\"quoted\\" \\\\ \\t"',
      'INLINE=abc # trailing comment',
      'HASH=abc#def',
      'EMPTY=',
      'QUOTED_EMPTY=""',
      'DOUBLE_COMMENT="x" # comment',
      'MULTI="first',
      'second"',
      'EQUALS=a=b=c',
      'CRLF=1\r',
    ].join('\n');
    expect(parseDotEnv(text)).toEqual({
      PLAIN: 'value',
      SPACED: 'spaced value',
      EXPORTED: 'yes',
      SINGLE: 'literal \\n $HOME # not a comment',
      DOUBLE: 'line1\nline2 "quoted" \\ \t',
      INLINE: 'abc',
      HASH: 'abc#def',
      EMPTY: '',
      QUOTED_EMPTY: '',
      DOUBLE_COMMENT: 'x',
      MULTI: 'first\nsecond',
      EQUALS: 'a=b=c',
      CRLF: '1',
    });
  });

  it('names the line of anything it cannot parse', () => {
    expect(() => parseDotEnv('A=1\nthis is not valid\n', '/x/.env')).toThrow(ConfigError);
    try {
      parseDotEnv('A=1\nthis is not valid\nB="unterminated\n', '/x/.env');
    } catch (err) {
      const e = err as ConfigError;
      expect(e.file).toBe('/x/.env');
      expect(e.issues).toEqual([
        { path: 'line 2', message: 'expected KEY=VALUE, got "this is not valid"' },
        { path: 'line 3', message: 'B: unterminated " quote' },
      ]);
      expect(e.message).toContain('/x/.env');
    }
  });
});

describe('loadDotEnv', () => {

  it('sets variables that are not already set and returns their keys', async () => {
    await using temp = await tempDir('handover-dotenv-');
    const dir = temp.path;
    const file = path.join(dir, '.env');
    await writeFile(file, 'HANDOVER_PROXY_PORT=8181\nHANDOVER_CONTROL_TOKEN=secret\nALREADY=from-file\nBLANK_SET=x\n');
    const env: NodeJS.ProcessEnv = { ALREADY: 'from-env', BLANK_SET: '' };
    const set = await loadDotEnv(file, env);
    expect(set).toEqual(['HANDOVER_PROXY_PORT', 'HANDOVER_CONTROL_TOKEN']);
    expect(env).toEqual({ ALREADY: 'from-env', BLANK_SET: '', HANDOVER_PROXY_PORT: '8181', HANDOVER_CONTROL_TOKEN: 'secret' });
  });

  it('returns [] for a missing file', async () => {
    await using temp = await tempDir('handover-dotenv-');
    const dir = temp.path;
    const env: NodeJS.ProcessEnv = {};
    expect(await loadDotEnv(path.join(dir, 'missing.env'), env)).toEqual([]);
    expect(env).toEqual({});
  });
});
