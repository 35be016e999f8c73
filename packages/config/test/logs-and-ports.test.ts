/**
 * Configuration for durability (issue #5): log rotation limits per pool, and the warning about
 * worker ports inside the kernel's ephemeral port range.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_EPHEMERAL_PORTS,
  type EphemeralPorts,
  formatConfigWarning,
  loadConfig,
  parseConfig,
  parseEphemeralPorts,
  readEphemeralPorts,
} from '../src/index';

const configPath = '/srv/app/handover.config.json';
const pool = (extra: Record<string, unknown> = {}) => ({ name: 'web', command: 'node server.js', basePort: 9000, sessionCookie: 'JSESSIONID', ...extra });

function parse(raw: unknown, options: { env?: NodeJS.ProcessEnv; ephemeralPorts?: EphemeralPorts | null } = {}) {
  return parseConfig(raw, { configPath, env: options.env ?? {}, ...('ephemeralPorts' in options ? { ephemeralPorts: options.ephemeralPorts } : {}) });
}

function issuesOf(raw: unknown) {
  try {
    parse(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('pools[].logs (log rotation)', () => {
  it('defaults to 10 MiB and 3 rotated files, and keeps what is given', () => {
    expect(parse({ pools: [pool()] }).pools[0]!.logs).toEqual({ maxBytes: 10_485_760, keep: 3 });
    expect(parse({ pools: [pool({ logs: { maxBytes: 65536 } })] }).pools[0]!.logs).toEqual({ maxBytes: 65536, keep: 3 });
    expect(parse({ pools: [pool({ logs: { keep: 0 } })] }).pools[0]!.logs).toEqual({ maxBytes: 10_485_760, keep: 0 });
  });

  it('rejects bad values, naming the field', () => {
    expect(issuesOf({ pools: [pool({ logs: { maxBytes: 1000 } })] })).toEqual([
      {
        path: 'pools[0].logs.maxBytes',
        message: 'expected a whole number of bytes from 65536 (64 KiB) to 1099511627776 (1 TiB), e.g. 10485760 for 10 MiB, got 1000',
      },
    ]);
    expect(issuesOf({ pools: [pool({ logs: { maxBytes: '10MiB' } })] })[0]).toEqual({
      path: 'pools[0].logs.maxBytes',
      message: expect.stringMatching(/^expected a whole number of bytes .*, got "10MiB"$/),
    });
    expect(issuesOf({ pools: [pool({ logs: { maxBytes: 65536.5 } })] })[0]!.path).toBe('pools[0].logs.maxBytes');
    expect(issuesOf({ pools: [pool({ logs: { keep: -1 } })] })).toEqual([
      { path: 'pools[0].logs.keep', message: 'expected an integer from 0 to 100, got -1' },
    ]);
    expect(issuesOf({ pools: [pool({ logs: { keep: 101 } })] })[0]!.path).toBe('pools[0].logs.keep');
    expect(issuesOf({ pools: [pool({ logs: 5 })] })).toEqual([
      { path: 'pools[0].logs', message: 'expected an object like { "maxBytes": 10485760, "keep": 3 }, got 5' },
    ]);
    expect(issuesOf({ pools: [pool({ logs: { maxbytes: 65536 } })] })).toEqual([
      { path: 'pools[0].logs.maxbytes', message: 'unknown field (did you mean "maxBytes"?)' },
    ]);
  });
});

describe('warning: worker ports in the ephemeral port range', () => {
  const linux = DEFAULT_EPHEMERAL_PORTS;

  it('no warning for a basePort well below the range, or above it', () => {
    expect(parse({ pools: [pool({ basePort: 9000 })] }).warnings).toEqual([]);
    expect(parse({ pools: [pool({ basePort: 31_768 })] }).warnings).toEqual([]);
    expect(parse({ pools: [pool({ basePort: 61_000 })] }).warnings).toEqual([]);
  });

  it('warns about a basePort inside the range, naming the field and what to do (and does not fail)', () => {
    const config = parse({ pools: [pool({ basePort: 40_000 })] });
    expect(config.pools[0]!.basePort).toBe(40_000);
    expect(config.warnings).toHaveLength(1);
    const [warning] = config.warnings;
    expect(warning!.path).toBe('pools[0].basePort');
    expect(warning!.message).toMatch(/^40000 is inside the ephemeral port range 32768–60999 \(Linux's default\)/);
    expect(warning!.message).toContain('EADDRINUSE');
    expect(warning!.message).toContain('Pick a basePort below 32768 (at most 31768 leaves room for 1000 generations)');
    expect(warning!.message).toContain('add 40000-40999 to net.ipv4.ip_local_reserved_ports (sysctl)');
    expect(formatConfigWarning(warning!)).toMatch(/^warning: pools\[0\]\.basePort: 40000 is inside/);
  });

  it('warns when later generations (basePort + generation) reach the range', () => {
    const [warning] = parse({ pools: [pool({ basePort: 32_000 })] }).warnings;
    expect(warning!.path).toBe('pools[0].basePort');
    expect(warning!.message).toMatch(/^32000 leaves room for 768 generation\(s\): from web@768 \(port 32768\) on, worker ports are inside the ephemeral port range/);
    expect(warning!.message).toContain('Pick a lower basePort (at most 31768');
  });

  it('names the right pool, and the environment variable a basePort came from', () => {
    const config = parse(
      { pools: [pool(), pool({ name: 'api', basePort: 9100, proxyPort: 8081 })] },
      { env: { HANDOVER_POOL_API_BASE_PORT: '45000' } },
    );
    expect(config.warnings.map((w) => w.path)).toEqual(['pools[1].basePort']);
    expect(config.warnings[0]!.message).toMatch(/^45000 \(from the environment variable HANDOVER_POOL_API_BASE_PORT\) is inside/);
  });

  it('uses the range it is given, honours reserved ports, and can be switched off', () => {
    const narrow = parseEphemeralPorts('50000\t50999\n', '', '/proc/sys/net/ipv4/ip_local_port_range')!;
    expect(parse({ pools: [pool({ basePort: 40_000 })] }, { ephemeralPorts: narrow }).warnings).toEqual([]);
    expect(parse({ pools: [pool({ basePort: 50_100 })] }, { ephemeralPorts: narrow }).warnings[0]!.message).toContain(
      '50100 is inside the ephemeral port range 50000–50999 (/proc/sys/net/ipv4/ip_local_port_range)',
    );
    // The operator reserved the pool's ports: the kernel never hands them out.
    const reserved = parseEphemeralPorts('32768 60999', '8080,40000-40999\n')!;
    expect(reserved.reserved).toEqual([
      [8080, 8080],
      [40000, 40999],
    ]);
    expect(parse({ pools: [pool({ basePort: 40_000 })] }, { ephemeralPorts: reserved }).warnings).toEqual([]);
    expect(parse({ pools: [pool({ basePort: 40_500 })] }, { ephemeralPorts: reserved }).warnings[0]!.message).toMatch(
      /^40500 leaves room for 500 generation/,
    );
    expect(parse({ pools: [pool({ basePort: 40_000 })] }, { ephemeralPorts: null }).warnings).toEqual([]);
    expect(parseEphemeralPorts('garbage')).toBeNull();
    expect(parse({ pools: [pool({ basePort: 40_000 })] }, { ephemeralPorts: linux }).warnings).toHaveLength(1);
  });

  it('reads the range from /proc on Linux', async () => {
    const read = await readEphemeralPorts();
    if (process.platform !== 'linux') {
      expect(read).toBeNull();
      return;
    }
    expect(read!.low).toBeGreaterThan(0);
    expect(read!.high).toBeGreaterThanOrEqual(read!.low);
  });

  it('loadConfig returns the warnings of the file it loads (an override of the range is honoured)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'handover-config-'));
    try {
      const file = path.join(dir, 'handover.config.json');
      await writeFile(file, JSON.stringify({ pools: [pool({ basePort: 40_000 })] }));
      const config = await loadConfig({ path: file, env: {}, ephemeralPorts: linux });
      expect(config.warnings.map(formatConfigWarning)).toEqual([expect.stringMatching(/^warning: pools\[0\]\.basePort: 40000 is inside/)]);
      expect((await loadConfig({ path: file, env: {}, ephemeralPorts: null })).warnings).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
