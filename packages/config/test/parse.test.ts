import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, parseConfig, poolBasePortEnvVar, type HandoverConfig } from '../src/index';

const configPath = '/srv/app/handover.config.json';
const pool = (extra: Record<string, unknown> = {}) => ({ name: 'web', command: 'node server.js', basePort: 9000, sessionCookie: 'JSESSIONID', ...extra });
const minimal = (extra: Record<string, unknown> = {}) => ({ pools: [pool()], ...extra });

function parse(raw: unknown, env: NodeJS.ProcessEnv = {}, readRevisionFile?: (p: string) => string): HandoverConfig {
  return parseConfig(raw, { configPath, env, ...(readRevisionFile ? { readRevisionFile } : {}) });
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const issuesOf = (raw: unknown, env: NodeJS.ProcessEnv = {}) => errorOf(() => parse(raw, env)).issues;

describe('parseConfig defaults', () => {
  it('fills in every default for a minimal config', () => {
    const config = parse(minimal());
    expect(config).toEqual({
      proxy: { host: '127.0.0.1', port: 8080, trustForwarded: false, timeouts: {}, limits: {} },
      control: { host: '127.0.0.1', port: 8090 },
      dataDir: '/srv/app/.handover',
      configPath,
      pools: [
        {
          name: 'web',
          command: 'node server.js',
          cwd: '/srv/app',
          env: {},
          basePort: 9000,
          proxyPort: null,
          sessionCookie: 'JSESSIONID',
          sessionPathParameter: null,
          routeCookie: 'handover_route',
          idleTimeoutSeconds: 1800,
          maxSessions: 1_000_000,
          sessionCookieDuplicates: 'first',
          sessionReports: false,
          sessionProbe: null,
          revision: 'unversioned',
          instances: 1,
          healthCheck: { path: '/healthz', timeoutSeconds: 30, intervalMs: 200, everySeconds: 5, failuresBeforeUnhealthy: 3 },
          stop: { graceSeconds: 10 },
          drain: { maxSeconds: 86400, unconfirmedSeconds: 60 },
          restart: { minUptimeSeconds: 5, maxRestarts: 5, backoffInitialMs: 500, backoffMaxMs: 30000 },
          logLines: 500,
          logs: { maxBytes: 10 * 1024 * 1024, keep: 3 },
        },
      ],
      warnings: [],
    });
    expect(DEFAULTS.pool.idleTimeoutSeconds).toBe(1800);
  });

  it('keeps every value given, merging partial sections with defaults', () => {
    const config = parse({
      $schema: './schema.json',
      proxy: { port: 3000 },
      control: { host: 'localhost' },
      dataDir: '/var/lib/handover',
      pools: [
        pool({
          cwd: 'app',
          env: { NODE_ENV: 'production' },
          sessionPathParameter: 'jsessionid',
          idleTimeoutSeconds: 60,
          revision: ' v2 ',
          instances: 2,
          healthCheck: { path: '/ready' },
          stop: { graceSeconds: 0 },
          drain: { maxSeconds: 600, unconfirmedSeconds: 5 },
          restart: { maxRestarts: 0 },
          logLines: 50,
        }),
        { name: 'api-2', command: 'java -jar x.jar', basePort: 9100, proxyPort: 3001, sessionCookie: 'connect.sid', cwd: '/opt/api' },
      ],
    });
    expect(config.proxy).toEqual({ host: '127.0.0.1', port: 3000, trustForwarded: false, timeouts: {}, limits: {} });
    expect(config.control).toEqual({ host: 'localhost', port: 8090 });
    expect(config.dataDir).toBe('/var/lib/handover');
    const [web, api] = config.pools;
    expect(web).toMatchObject({
      cwd: '/srv/app/app',
      env: { NODE_ENV: 'production' },
      sessionPathParameter: 'jsessionid',
      idleTimeoutSeconds: 60,
      revision: 'v2',
      instances: 2,
      healthCheck: { path: '/ready', timeoutSeconds: 30, intervalMs: 200, everySeconds: 5, failuresBeforeUnhealthy: 3 },
      stop: { graceSeconds: 0 },
      drain: { maxSeconds: 600, unconfirmedSeconds: 5 },
      restart: { minUptimeSeconds: 5, maxRestarts: 0, backoffInitialMs: 500, backoffMaxMs: 30000 },
      logLines: 50,
    });
    expect(web!.proxyPort).toBeNull();
    expect(api).toMatchObject({ name: 'api-2', cwd: '/opt/api', sessionCookie: 'connect.sid', proxyPort: 3001 });
  });

  it('resolves a relative configPath to an absolute one', () => {
    const config = parseConfig(minimal(), { configPath: 'handover.config.json', env: {} });
    expect(config.configPath).toBe(`${process.cwd()}/handover.config.json`);
    expect(config.dataDir).toBe(`${process.cwd()}/.handover`);
  });

  it('allows drain.maxSeconds null and sessionPathParameter null explicitly', () => {
    const config = parse(minimal({ pools: [pool({ drain: { maxSeconds: null, unconfirmedSeconds: null }, sessionPathParameter: null })] }));
    // null is the opt-out (wait for the last session however long), not "use the default".
    expect(config.pools[0]!.drain).toEqual({ maxSeconds: null, unconfirmedSeconds: null });
    expect(config.pools[0]!.sessionPathParameter).toBeNull();
  });

  it('drains end within a day unless told otherwise; one half of the drain section keeps the other default', () => {
    expect(DEFAULTS.pool.drain.maxSeconds).toBe(24 * 3600);
    expect(parse(minimal({ pools: [pool({ drain: { unconfirmedSeconds: 0 } })] })).pools[0]!.drain).toEqual({ maxSeconds: 86400, unconfirmedSeconds: 0 });
    expect(parse(minimal({ pools: [pool({ drain: { maxSeconds: 30 } })] })).pools[0]!.drain).toEqual({ maxSeconds: 30, unconfirmedSeconds: 60 });
  });
});

describe('environment overrides', () => {
  it('applies every HANDOVER_* override after the file', () => {
    const config = parse(minimal({ proxy: { port: 1 }, pools: [pool({ name: 'my-app' })] }), {
      HANDOVER_PROXY_PORT: '8181',
      HANDOVER_PROXY_HOST: '0.0.0.0',
      HANDOVER_CONTROL_PORT: ' 8191 ',
      HANDOVER_CONTROL_HOST: 'localhost',
      HANDOVER_DATA_DIR: 'state',
      HANDOVER_POOL_MY_APP_BASE_PORT: '9500',
    });
    expect(config.proxy).toEqual({ host: '0.0.0.0', port: 8181, trustForwarded: false, timeouts: {}, limits: {} });
    expect(config.control).toEqual({ host: 'localhost', port: 8191 });
    expect(config.dataDir).toBe('/srv/app/state');
    expect(config.pools[0]!.basePort).toBe(9500);
  });

  it('ignores empty overrides', () => {
    expect(parse(minimal(), { HANDOVER_PROXY_PORT: '', HANDOVER_DATA_DIR: ' ' }).proxy.port).toBe(8080);
  });

  it('names the pool variable', () => {
    expect(poolBasePortEnvVar('my-app-2')).toBe('HANDOVER_POOL_MY_APP_2_BASE_PORT');
  });

  it('reports a bad override by field and by variable', () => {
    const err = errorOf(() => parse(minimal(), { HANDOVER_POOL_WEB_BASE_PORT: 'abc', HANDOVER_PROXY_PORT: '70000' }));
    expect(err.issues).toEqual([
      { path: 'proxy.port', message: 'expected an integer from 1 to 65535, got 70000 (from the environment variable HANDOVER_PROXY_PORT)' },
      { path: 'pools[0].basePort', message: 'expected an integer from 1 to 65535, got "abc" (from the environment variable HANDOVER_POOL_WEB_BASE_PORT)' },
    ]);
    expect(err.message).toContain('pools[0].basePort: expected an integer from 1 to 65535, got "abc"');
    expect(err.message).toContain(configPath);
  });

  it('reports a pool variable that matches no pool', () => {
    const issues = issuesOf(minimal(), { HANDOVER_POOL_WBE_BASE_PORT: '9000' });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('HANDOVER_POOL_WBE_BASE_PORT');
    expect(issues[0]!.message).toContain('no pool matches');
    expect(issues[0]!.message).toContain('pools: web');
  });

  it('names the variable in a collision it caused', () => {
    const issues = issuesOf(minimal(), { HANDOVER_CONTROL_PORT: '8080' });
    expect(issues).toEqual([{ path: 'control.port', message: expect.stringContaining('HANDOVER_CONTROL_PORT') }]);
  });

  it('does not modify the raw object or the environment', () => {
    const raw = minimal();
    const env = { HANDOVER_PROXY_PORT: '81' };
    parse(raw, env);
    expect(raw).toEqual(minimal());
    expect(env).toEqual({ HANDOVER_PROXY_PORT: '81' });
  });
});

describe('validation errors', () => {
  it('rejects a top level that is not an object', () => {
    expect(issuesOf([])).toEqual([{ path: '', message: 'expected a JSON object at the top level, got a list' }]);
    expect(issuesOf(null)[0]!.message).toContain('got null');
  });

  it('requires pools, with at least one pool', () => {
    expect(issuesOf({})).toEqual([{ path: 'pools', message: expect.stringMatching(/^required field missing/) }]);
    expect(issuesOf({ pools: [] })).toEqual([{ path: 'pools', message: expect.stringContaining('at least one pool') }]);
    expect(issuesOf({ pools: {} })[0]!.message).toContain('expected a list of pools');
  });

  it('names every missing required pool field', () => {
    const issues = issuesOf({ pools: [{}] });
    expect(issues.map((i) => i.path)).toEqual(['pools[0].name', 'pools[0].command', 'pools[0].basePort', 'pools[0].sessionCookie']);
    for (const issue of issues) expect(issue.message).toMatch(/^required field missing/);
  });

  it('says "unknown field" for unknown keys at every level, suggesting a near miss', () => {
    const issues = issuesOf({
      prxy: {},
      proxy: { hots: 'x' },
      pools: [pool({ comand: 'x', healthCheck: { pth: '/' }, stop: { grace: 1 }, zzzzzzzz: 1 })],
    });
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath).toEqual({
      prxy: 'unknown field (did you mean "proxy"?)',
      'proxy.hots': 'unknown field (did you mean "host"?)',
      'pools[0].comand': 'unknown field (did you mean "command"?)',
      'pools[0].healthCheck.pth': 'unknown field (did you mean "path"?)',
      'pools[0].stop.grace': expect.stringMatching(/^unknown field \(known fields: graceSeconds\)/),
      'pools[0].zzzzzzzz': expect.stringMatching(/^unknown field \(known fields: name, command, /),
    });
  });

  it('reports ports out of range or of the wrong type', () => {
    const issues = issuesOf({ proxy: { port: 0 }, control: { port: 1.5 }, pools: [pool({ basePort: 'abc' })] });
    expect(issues).toEqual([
      { path: 'proxy.port', message: 'expected an integer from 1 to 65535, got 0' },
      { path: 'control.port', message: 'expected an integer from 1 to 65535, got 1.5' },
      { path: 'pools[0].basePort', message: 'expected an integer from 1 to 65535, got "abc"' },
    ]);
  });

  it('validates names, cookies, hosts, paths and amounts', () => {
    const issues = issuesOf({
      proxy: { host: 'http://x' },
      dataDir: '',
      pools: [
        pool({
          name: 'Web',
          command: '  ',
          sessionCookie: 'a b',
          sessionPathParameter: ';jsessionid',
          idleTimeoutSeconds: 0,
          instances: -1,
          revision: '',
          healthCheck: { path: 'healthz', timeoutSeconds: -1, intervalMs: 1, everySeconds: 0, failuresBeforeUnhealthy: 0 },
          stop: { graceSeconds: -1 },
          drain: { maxSeconds: 0, unconfirmedSeconds: -1 },
          restart: { minUptimeSeconds: 'x', maxRestarts: 1.5, backoffInitialMs: -1, backoffMaxMs: true },
          logLines: 0,
          env: [],
          cwd: 3,
        }),
      ],
    });
    const paths = issues.map((i) => i.path).sort();
    expect(paths).toEqual(
      [
        'proxy.host',
        'dataDir',
        'pools[0].name',
        'pools[0].command',
        'pools[0].cwd',
        'pools[0].env',
        'pools[0].sessionCookie',
        'pools[0].sessionPathParameter',
        'pools[0].idleTimeoutSeconds',
        'pools[0].revision',
        'pools[0].instances',
        'pools[0].healthCheck.path',
        'pools[0].healthCheck.timeoutSeconds',
        'pools[0].healthCheck.intervalMs',
        'pools[0].healthCheck.everySeconds',
        'pools[0].healthCheck.failuresBeforeUnhealthy',
        'pools[0].stop.graceSeconds',
        'pools[0].drain.maxSeconds',
        'pools[0].drain.unconfirmedSeconds',
        'pools[0].restart.minUptimeSeconds',
        'pools[0].restart.maxRestarts',
        'pools[0].restart.backoffInitialMs',
        'pools[0].restart.backoffMaxMs',
        'pools[0].logLines',
      ].sort(),
    );
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath['pools[0].healthCheck.path']).toBe('expected a URL path starting with "/", e.g. "/healthz", got "healthz"');
    expect(byPath['pools[0].name']).toContain('got "Web"');
    expect(byPath['pools[0].env']).toContain('got a list');
    expect(byPath['pools[0].instances']).toBe('expected an integer from 0 to 64, got -1');
    expect(byPath['pools[0].healthCheck.everySeconds']).toMatch(/^expected a number of seconds from 0.05 to 3600/);
    expect(byPath['pools[0].healthCheck.failuresBeforeUnhealthy']).toMatch(/^expected an integer from 1 to 100/);
  });

  it('rejects a pool name that is too long or starts with a digit', () => {
    expect(issuesOf({ pools: [pool({ name: 'a'.repeat(33) })] })[0]!.path).toBe('pools[0].name');
    expect(issuesOf({ pools: [pool({ name: '1web' })] })[0]!.path).toBe('pools[0].name');
    expect(parse({ pools: [pool({ name: 'a'.repeat(32) })] }).pools[0]!.name).toHaveLength(32);
  });

  it('rejects env values that are not strings, bad names and variables Handover sets', () => {
    expect(issuesOf({ pools: [pool({ env: { N: 3 } })] })).toEqual([
      { path: 'pools[0].env.N', message: 'expected a string (environment values are strings: quote numbers), got 3' },
    ]);
    const issues = issuesOf({ pools: [pool({ env: { PORT: '1', HANDOVER_WORKER: 'x', '1X': 'y', 'A-B': 'z', OK: 'fine' } })] });
    expect(issues.map((i) => i.path)).toEqual(['pools[0].env.PORT', 'pools[0].env.HANDOVER_WORKER', 'pools[0].env.1X', 'pools[0].env.A-B']);
    expect(issues[0]!.message).toBe('PORT is set by Handover for each worker; remove it');
  });

  it('lists every problem in the message, naming the file', () => {
    const err = errorOf(() => parse({ proxy: { port: 'x' }, pools: [pool({ basePort: 0 })] }));
    expect(err.file).toBe(configPath);
    expect(err.message).toBe(
      [
        `Invalid configuration in ${configPath}:`,
        '  - proxy.port: expected an integer from 1 to 65535, got "x"',
        '  - pools[0].basePort: expected an integer from 1 to 65535, got 0',
      ].join('\n'),
    );
  });
});

describe('cross-field checks', () => {
  it('rejects duplicate pool names', () => {
    expect(issuesOf({ pools: [pool(), pool({ basePort: 9100, proxyPort: 8081 })] })).toEqual([
      { path: 'pools[1].name', message: 'duplicate pool name "web" (also pools[0].name)' },
    ]);
  });

  it('rejects proxy port equal to control port', () => {
    expect(issuesOf(minimal({ proxy: { port: 7000 }, control: { port: 7000 } }))).toEqual([
      { path: 'control.port', message: '7000 is also the proxy port (proxy.port); they must differ' },
    ]);
  });

  it('rejects a basePort equal to the proxy or control port, or to another pool', () => {
    const issues = issuesOf({
      pools: [
        pool({ basePort: 8080 }),
        pool({ name: 'b', basePort: 8090, proxyPort: 8081 }),
        pool({ name: 'c', basePort: 9000, proxyPort: 8082 }),
        pool({ name: 'd', basePort: 9000, proxyPort: 8083 }),
      ],
    });
    expect(issues).toEqual([
      { path: 'pools[0].basePort', message: '8080 is the proxy port (proxy.port); pick another' },
      { path: 'pools[1].basePort', message: '8090 is the control port (control.port); pick another' },
      { path: 'pools[3].basePort', message: '9000 is also the basePort of pools[2] ("c"); pick another' },
    ]);
  });

  it('requires a proxyPort for every pool after the first, without collisions', () => {
    expect(issuesOf({ pools: [pool(), pool({ name: 'b', basePort: 9100 })] })).toEqual([
      { path: 'pools[1].proxyPort', message: expect.stringContaining('required when there are several pools') },
    ]);
    const issues = issuesOf({
      pools: [
        pool(),
        pool({ name: 'b', basePort: 9100, proxyPort: 8080 }),
        pool({ name: 'c', basePort: 9200, proxyPort: 8090 }),
        pool({ name: 'd', basePort: 9300, proxyPort: 9100 }),
        pool({ name: 'e', basePort: 9400, proxyPort: 9400 }),
        pool({ name: 'f', basePort: 9500, proxyPort: 8081 }),
        pool({ name: 'g', basePort: 9600, proxyPort: 8081 }),
      ],
    });
    expect(issues).toEqual([
      { path: 'pools[1].proxyPort', message: '8080 is proxy.port, the public port of the first pool; pick another' },
      { path: 'pools[2].proxyPort', message: '8090 is the control port (control.port); pick another' },
      { path: 'pools[3].proxyPort', message: '9100 is the basePort of pools[1]; pick another' },
      { path: 'pools[4].proxyPort', message: "9400 is this pool's basePort; pick another" },
      { path: 'pools[6].proxyPort', message: '8081 is the proxyPort of pools[5]; pick another' },
    ]);
    const ok = parse({ pools: [pool({ proxyPort: 8081 }), pool({ name: 'b', basePort: 9100, proxyPort: 8080 })] });
    expect(ok.pools.map((p) => p.proxyPort)).toEqual([8081, 8080]);
  });

  it('overrides proxyPort from HANDOVER_POOL_<NAME>_PROXY_PORT', () => {
    const config = parse({ pools: [pool(), pool({ name: 'my-api', basePort: 9100, proxyPort: 8081 })] }, { HANDOVER_POOL_MY_API_PROXY_PORT: '18081' });
    expect(config.pools[1]!.proxyPort).toBe(18081);
    expect(issuesOf(minimal(), { HANDOVER_POOL_WEB_PROXY_PORT: 'x' })).toEqual([
      { path: 'pools[0].proxyPort', message: 'expected an integer from 1 to 65535, got "x" (from the environment variable HANDOVER_POOL_WEB_PROXY_PORT)' },
    ]);
  });

  it('takes a routeCookie name or false, refusing a bad name and one equal to sessionCookie', () => {
    expect(parse(minimal({ pools: [pool({ routeCookie: 'srv' })] })).pools[0]!.routeCookie).toBe('srv');
    expect(parse(minimal({ pools: [pool({ routeCookie: false })] })).pools[0]!.routeCookie).toBeNull();
    for (const bad of ['a b', '', true, 42, null]) {
      const issues = issuesOf({ pools: [pool({ routeCookie: bad })] });
      expect(issues.map((i) => i.path)).toEqual(['pools[0].routeCookie']);
      expect(issues[0]!.message).toMatch(/expected a cookie name, e\.g\. "handover_route".*or false/);
    }
    const same = issuesOf({ pools: [pool({ routeCookie: 'JSESSIONID' })] });
    expect(same).toEqual([{ path: 'pools[0].routeCookie', message: expect.stringMatching(/must differ from sessionCookie \("JSESSIONID"\)/) }]);
    expect(issuesOf({ pools: [pool({ sessionCookie: 'handover_route' })] })[0]!.path).toBe('pools[0].routeCookie');
  });

  it('takes sessionReports as true or false only', () => {
    expect(parse({ pools: [pool({ sessionReports: true })] }).pools[0]!.sessionReports).toBe(true);
    expect(issuesOf({ pools: [pool({ sessionReports: 'yes' })] })).toEqual([{ path: 'pools[0].sessionReports', message: 'expected true or false, got "yes"' }]);
  });

  it('rejects backoffMaxMs below backoffInitialMs', () => {
    expect(issuesOf({ pools: [pool({ restart: { backoffInitialMs: 1000, backoffMaxMs: 10 } })] })[0]!.path).toBe('pools[0].restart.backoffMaxMs');
  });
});

describe('revision and revisionFile', () => {
  it('reads revisionFile through the reader, relative to the config dir, trimmed', () => {
    const seen: string[] = [];
    const config = parse({ pools: [pool({ revisionFile: 'REVISION' })] }, {}, (p) => {
      seen.push(p);
      return ' v7\n';
    });
    expect(seen).toEqual(['/srv/app/REVISION']);
    expect(config.pools[0]!.revision).toBe('v7');
  });

  it('reports a missing, empty or multi-line revisionFile', () => {
    const missing = () => {
      throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    };
    expect(errorOf(() => parse({ pools: [pool({ revisionFile: 'R' })] }, {}, missing)).issues).toEqual([
      { path: 'pools[0].revisionFile', message: 'file not found: /srv/app/R' },
    ]);
    expect(errorOf(() => parse({ pools: [pool({ revisionFile: 'R' })] }, {}, () => ' \n')).issues[0]!.message).toContain('is empty');
    expect(errorOf(() => parse({ pools: [pool({ revisionFile: 'R' })] }, {}, () => 'a\nb')).issues[0]!.message).toContain('several lines');
  });

  it('without a reader, reports that revisionFile needs loadConfig', () => {
    expect(issuesOf({ pools: [pool({ revisionFile: 'R' })] })[0]!.message).toContain('use loadConfig');
  });

  it('rejects both revision and revisionFile', () => {
    expect(errorOf(() => parse({ pools: [pool({ revision: 'v1', revisionFile: 'R' })] }, {}, () => 'v2')).issues).toEqual([
      { path: 'pools[0].revisionFile', message: 'set either "revision" or "revisionFile", not both' },
    ]);
  });

  it('rejects a multi-line revision', () => {
    expect(issuesOf({ pools: [pool({ revision: 'a\nb' })] })[0]!.message).toContain('single line');
  });
});

describe('proxy settings', () => {
  it('takes trustForwarded, timeouts and limits; what is unset keeps the proxy’s defaults', () => {
    const config = parse(minimal({ proxy: { port: 8080, trustForwarded: true, timeouts: { responseSeconds: 120, bodyIdleSeconds: 0 }, limits: { maxConnectionsPerClient: 0 } } }));
    expect(config.proxy).toEqual({
      host: '127.0.0.1',
      port: 8080,
      trustForwarded: true,
      timeouts: { responseSeconds: 120, bodyIdleSeconds: 0 },
      limits: { maxConnectionsPerClient: 0 },
    });
  });

  it('names a bad or unknown field', () => {
    expect(issuesOf(minimal({ proxy: { timeouts: { responseSecs: 5 } } })).map((i) => i.path)).toEqual(['proxy.timeouts.responseSecs']);
    expect(issuesOf(minimal({ proxy: { limits: { maxConnections: -1 } } }))[0]?.path).toBe('proxy.limits.maxConnections');
    expect(issuesOf(minimal({ proxy: { trustForwarded: 'yes' } }))[0]?.path).toBe('proxy.trustForwarded');
  });
});
