import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, parseConfig } from '../src/index';

const configPath = '/srv/app/handover.config.json';
const withPool = (extra: Record<string, unknown>) => ({
  pools: [{ name: 'web', command: 'node server.js', basePort: 9000, sessionCookie: 'JSESSIONID', ...extra }],
});

function issuePaths(raw: unknown): string[] {
  try {
    parseConfig(raw, { configPath, env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((issue) => issue.path);
  }
  throw new Error('expected a ConfigError');
}

describe('pool session limits', () => {
  it('defaults to a million sessions per pool and the first of duplicate session cookies', () => {
    const [pool] = parseConfig(withPool({}), { configPath, env: {} }).pools;
    expect(pool).toMatchObject({ maxSessions: 1_000_000, sessionCookieDuplicates: 'first' });
    expect(DEFAULTS.pool.maxSessions).toBe(1_000_000);
  });

  it('keeps the values given', () => {
    const [pool] = parseConfig(withPool({ maxSessions: 5000, sessionCookieDuplicates: 'last' }), { configPath, env: {} }).pools;
    expect(pool).toMatchObject({ maxSessions: 5000, sessionCookieDuplicates: 'last' });
  });

  it('names the field when a value is wrong', () => {
    for (const maxSessions of [0, -1, 1.5, '100', 1e9]) {
      expect(issuePaths(withPool({ maxSessions })), String(maxSessions)).toEqual(['pools[0].maxSessions']);
    }
    expect(issuePaths(withPool({ sessionCookieDuplicates: 'middle' }))).toEqual(['pools[0].sessionCookieDuplicates']);
  });
});
