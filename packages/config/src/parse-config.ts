import path from 'node:path';
import { crossChecks } from './cross-checks';
import { DEFAULTS } from './defaults';
import { DEFAULT_EPHEMERAL_PORTS, type EphemeralPorts, ephemeralPortWarnings } from './ephemeral-ports';
import { applyEnvOverrides } from './env-overrides';
import { ConfigError } from './errors';
import type { HandoverConfig, PoolConfig, ProxyConfig } from './handover-config';
import { isObject } from './json-object';
import { revisionOf } from './revision-file';
import { fileSchema } from './schema';
import { formatValue, schemaIssues } from './schema-issues';

export interface ParseConfigOptions {
  /** Where the configuration came from; relative paths in it resolve against its directory. */
  configPath: string;
  /** Source of the HANDOVER_* overrides; default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * Returns the contents of a pool's `revisionFile` (given its absolute path) or throws.
   * `loadConfig` supplies one that serves files it has already read; without one, a
   * `revisionFile` is reported as an error. (parseConfig itself does no I/O.)
   */
  readRevisionFile?: (absolutePath: string) => string;
  /**
   * The kernel's ephemeral port range, for the warning about worker ports inside it. Default:
   * Linux's default range (32768–60999); `loadConfig` reads the real one from /proc. null: no check.
   */
  ephemeralPorts?: EphemeralPorts | null;
}

/**
 * Validates raw configuration (the parsed JSON) and fills in every default. The HANDOVER_*
 * environment overrides are applied first, so a bad override is reported by name too.
 * Throws a ConfigError listing every problem.
 */
export function parseConfig(raw: unknown, options: ParseConfigOptions): HandoverConfig {
  const configPath = path.resolve(options.configPath);
  const dir = path.dirname(configPath);
  const env = options.env ?? process.env;

  if (!isObject(raw)) {
    throw new ConfigError(configPath, [{ path: '', message: `expected a JSON object at the top level, got ${formatValue(raw)}` }]);
  }
  const overridden = applyEnvOverrides(raw, env);
  const result = fileSchema.safeParse(overridden.value);
  const issues = [...overridden.issues];
  if (!result.success) {
    issues.push(...schemaIssues(result.issues, overridden.sources));
    throw new ConfigError(configPath, issues);
  }
  const file = result.data;
  const proxy: ProxyConfig = {
    host: file.proxy?.host ?? DEFAULTS.proxy.host,
    port: file.proxy?.port ?? DEFAULTS.proxy.port,
    trustForwarded: file.proxy?.trustForwarded ?? false,
    timeouts: { ...file.proxy?.timeouts },
    limits: { ...file.proxy?.limits },
  };
  const control = { ...DEFAULTS.control, ...file.control };
  issues.push(...crossChecks(file, proxy.port, control.port, overridden.sources));

  const d = DEFAULTS.pool;
  const pools = file.pools.map((p, i): PoolConfig => ({
    name: p.name,
    command: p.command,
    cwd: p.cwd === undefined ? dir : path.resolve(dir, p.cwd),
    env: { ...p.env },
    basePort: p.basePort,
    proxyPort: p.proxyPort ?? null,
    sessionCookie: p.sessionCookie,
    sessionPathParameter: p.sessionPathParameter ?? d.sessionPathParameter,
    routeCookie: p.routeCookie === false ? null : (p.routeCookie ?? d.routeCookie),
    idleTimeoutSeconds: p.idleTimeoutSeconds ?? d.idleTimeoutSeconds,
    maxSessions: p.maxSessions ?? d.maxSessions,
    sessionCookieDuplicates: p.sessionCookieDuplicates ?? d.sessionCookieDuplicates,
    sessionReports: p.sessionReports ?? d.sessionReports,
    sessionProbe: p.sessionProbe == null ? d.sessionProbe : { ...d.sessionProbeSettings, ...p.sessionProbe, headers: { ...p.sessionProbe.headers } },
    revision: revisionOf(p, i, dir, options, issues),
    instances: p.instances ?? d.instances,
    healthCheck: { ...d.healthCheck, ...p.healthCheck },
    stop: { ...d.stop, ...p.stop },
    // `null` given is an opt-out, only a missing field takes the default.
    drain: {
      maxSeconds: p.drain?.maxSeconds === undefined ? d.drain.maxSeconds : p.drain.maxSeconds,
      unconfirmedSeconds: p.drain?.unconfirmedSeconds === undefined ? d.drain.unconfirmedSeconds : p.drain.unconfirmedSeconds,
    },
    restart: { ...d.restart, ...p.restart },
    logLines: p.logLines ?? d.logLines,
    logs: { ...d.logs, ...p.logs },
  }));
  if (issues.length) throw new ConfigError(configPath, issues);
  const ephemeral = options.ephemeralPorts === undefined ? DEFAULT_EPHEMERAL_PORTS : options.ephemeralPorts;

  return {
    proxy,
    control,
    dataDir: path.resolve(dir, file.dataDir ?? DEFAULTS.dataDir),
    pools,
    configPath,
    warnings: ephemeral === null ? [] : ephemeralPortWarnings(pools, ephemeral, overridden.sources),
  };
}
