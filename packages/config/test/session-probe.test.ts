import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, parseConfig, sessionProbePatternProblem } from '../src/index';

const configPath = '/srv/app/handover.config.json';
const withProbe = (sessionProbe: unknown) => ({
  pools: [{ name: 'web', command: 'node server.js', basePort: 9000, sessionCookie: 'JSESSIONID', sessionProbe }],
});

const probeOf = (sessionProbe: unknown) => parseConfig(withProbe(sessionProbe), { configPath, env: {} }).pools[0]!.sessionProbe;

function issuesOf(sessionProbe: unknown): Array<{ path: string; message: string }> {
  try {
    parseConfig(withProbe(sessionProbe), { configPath, env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('pools[].sessionProbe', () => {
  it('is off unless set; null says so explicitly', () => {
    expect(parseConfig({ pools: [{ name: 'web', command: 'x', basePort: 9000, sessionCookie: 'SID' }] }, { configPath, env: {} }).pools[0]!.sessionProbe).toBeNull();
    expect(probeOf(null)).toBeNull();
    expect(DEFAULTS.pool.sessionProbe).toBeNull();
  });

  it('fills in the defaults: no pattern (the default reading), every 5 s, 2 s each, no extra headers', () => {
    expect(probeOf({ path: '/stats' })).toEqual({ path: '/stats', pattern: null, intervalSeconds: 5, timeoutSeconds: 2, headers: {} });
  });

  it('keeps every value given', () => {
    const probe = {
      path: '/manager/text/list',
      pattern: '^/shop:running:(\\d+):',
      intervalSeconds: 0.5,
      timeoutSeconds: 1.5,
      headers: { Authorization: 'Basic dG9tY2F0OnMzY3JldA==' },
    };
    expect(probeOf(probe)).toEqual(probe);
  });

  it('requires a path starting with "/"', () => {
    expect(issuesOf({})).toEqual([{ path: 'pools[0].sessionProbe.path', message: expect.stringMatching(/^required field missing \(expected a URL path starting with "\/", e\.g\. "\/stats"\)/) }]);
    expect(issuesOf({ path: 'stats' })).toEqual([{ path: 'pools[0].sessionProbe.path', message: 'expected a URL path starting with "/", e.g. "/stats", got "stats"' }]);
    expect(issuesOf({ path: '/a b' })[0]!.message).toMatch(/^must not contain spaces/);
  });

  it('refuses a pattern that does not compile, saying how to write one', () => {
    const [issue, ...rest] = issuesOf({ path: '/stats', pattern: 'active=(\\d+' });
    expect(rest).toEqual([]);
    expect(issue!.path).toBe('pools[0].sessionProbe.pattern');
    expect(issue!.message).toMatch(/^not a valid regular expression \(.*Unterminated group\); in JSON a backslash is written twice, e\.g\. "active=\(\\\\d\+\)", got "active=\(\\\\d\+"$/);
  });

  it('refuses a pattern without a capture group, saying to add one', () => {
    for (const pattern of ['active=\\d+', 'active=(?:\\d+)', '(?=x)\\d']) {
      const issues = issuesOf({ path: '/stats', pattern });
      expect(issues, pattern).toEqual([
        { path: 'pools[0].sessionProbe.pattern', message: expect.stringMatching(/^has no capture group: put parentheses around the count, e\.g\. "active=\(\\\\d\+\)" \(its first group is read as the number of sessions\)/) },
      ]);
    }
    // A named group or several groups are fine: the first one is the count.
    expect(sessionProbePatternProblem('(?<count>\\d+)')).toBeNull();
    expect(sessionProbePatternProblem('(\\d+) of (\\d+)')).toBeNull();
    // Compiled with the m flag, as the probe uses it: ^ is a line start.
    expect(sessionProbePatternProblem('^/app:running:(\\d+):')).toBeNull();
  });

  it('names a bad interval, timeout, header or an unknown field', () => {
    expect(issuesOf({ path: '/stats', intervalSeconds: 0.01 })).toEqual([
      { path: 'pools[0].sessionProbe.intervalSeconds', message: 'expected a number of seconds from 0.1 to 3600, got 0.01' },
    ]);
    expect(issuesOf({ path: '/stats', timeoutSeconds: 0 })).toEqual([
      { path: 'pools[0].sessionProbe.timeoutSeconds', message: 'expected a number of seconds greater than 0 and at most 60, got 0' },
    ]);
    expect(issuesOf({ path: '/stats', headers: { 'Bad Name': 'x' } }).map((i) => i.path)).toEqual(['pools[0].sessionProbe.headers.Bad Name']);
    expect(issuesOf({ path: '/stats', headers: { Authorization: 'a\r\nX-Evil: 1' } })[0]!.message).toMatch(/^must be a single line/);
    expect(issuesOf({ path: '/stats', intervalSecond: 5 })).toEqual([{ path: 'pools[0].sessionProbe.intervalSecond', message: 'unknown field (did you mean "intervalSeconds"?)' }]);
    expect(issuesOf('/stats')).toEqual([
      { path: 'pools[0].sessionProbe', message: 'expected an object like { "path": "/stats" }, or null for no session probe, got "/stats"' },
    ]);
  });
});
