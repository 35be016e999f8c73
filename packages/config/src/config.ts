import path from 'node:path';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue, type ConfigWarning } from './errors';
import { DEFAULT_EPHEMERAL_PORTS, type EphemeralPorts, ephemeralPortWarnings } from './ephemeral-ports';
import { fileSchema, type ConfigFile, type PoolFile } from './schema';

export interface ListenConfig {
  host: string;
  port: number;
}

/** The proxy's own settings; unset timeouts and limits keep the proxy's defaults (packages/proxy README). */
export interface ProxyConfig extends ListenConfig {
  /** A trusted proxy in front: its Forwarded / X-Forwarded-* / X-Real-IP are kept. */
  trustForwarded: boolean;
  timeouts: Partial<Record<ProxyTimeout, number>>;
  limits: Partial<Record<ProxyLimit, number>>;
}

export type ProxyTimeout =
  | 'headerSeconds'
  | 'requestSeconds'
  | 'bodyIdleSeconds'
  | 'keepAliveSeconds'
  | 'sendSeconds'
  | 'connectSeconds'
  | 'responseSeconds'
  | 'upstreamIdleSeconds'
  | 'upgradeSeconds'
  | 'tunnelIdleSeconds'
  | 'queueSeconds';

export type ProxyLimit =
  | 'maxConnections'
  | 'maxConnectionsPerClient'
  | 'maxConnectionsPerWorker'
  | 'maxHeaderBytes'
  | 'maxHeaderCount'
  | 'maxResponseHeaderBytes';

export interface HandoverConfig {
  proxy: ProxyConfig;
  control: ListenConfig;
  /** Absolute. */
  dataDir: string;
  pools: PoolConfig[];
  /** Absolute path of the file this was loaded from. */
  configPath: string;
  /**
   * Problems that do not stop Handover but may bite later (e.g. a basePort inside the ephemeral
   * port range), each naming its field. `handover start` prints them; the supervisor records them.
   */
  warnings: ConfigWarning[];
}

export interface PoolConfig {
  /** /^[a-z][a-z0-9-]{0,31}$/, unique. */
  name: string;
  /** Run through the shell. */
  command: string;
  /** Absolute; relative paths in the file resolve against the config file's directory (the default). */
  cwd: string;
  /** Extra environment for workers. */
  env: Record<string, string>;
  /** Worker port = basePort + generation (skipping ports in use). */
  basePort: number;
  /**
   * Public port of this pool's proxy (on proxy.host). null: proxy.port, which only the first pool
   * may use; every further pool needs a proxyPort of its own (the proxy routes by port, not by host).
   */
  proxyPort: number | null;
  /** e.g. JSESSIONID. */
  sessionCookie: string;
  /** e.g. "jsessionid" to read ";jsessionid=ID" from the URL path; null: cookie only. */
  sessionPathParameter: string | null;
  /** The proxy's signed cookie naming the worker of a session (restores bindings lost by a kill -9); null: none. */
  routeCookie: string | null;
  idleTimeoutSeconds: number;
  /**
   * Most sessions the proxy keeps bound for this pool (memory and the state journal stay bounded);
   * a new one beyond makes room by evicting the least recently used one that has no request or
   * WebSocket under way and is not on a detached worker, or goes untracked (warned once).
   */
  maxSessions: number;
  /** Which of several session cookies in one request counts, as the app decides: 'first' (PHP, Express, Tomcat) or 'last' (Django). */
  sessionCookieDuplicates: 'first' | 'last';
  /** The revision label new workers start on. */
  revision: string;
  /** Attached instances wanted. */
  instances: number;
  /**
   * `timeoutSeconds`/`intervalMs`: how long and how often a starting worker is polled until it is
   * ready. `everySeconds`: then, how often a running (started or detached) worker is probed for
   * liveness, off the proxy's path; after `failuresBeforeUnhealthy` failed probes in a row it is
   * unhealthy (an attached one is replaced like a crash).
   */
  healthCheck: { path: string; timeoutSeconds: number; intervalMs: number; everySeconds: number; failuresBeforeUnhealthy: number };
  stop: { graceSeconds: number };
  /**
   * `maxSeconds`: a detached worker is stopped after this long even with sessions left; null:
   * wait for the last session, however long. `unconfirmedSeconds`: after a supervisor restart,
   * bindings restored from the store keep a detached worker alive for at most this long (capped
   * by the idle timeout) unless a request or the app's report confirms them; null: until they
   * expire.
   */
  drain: { maxSeconds: number | null; unconfirmedSeconds: number | null };
  restart: { minUptimeSeconds: number; maxRestarts: number; backoffInitialMs: number; backoffMaxMs: number };
  /** Last output lines kept per worker. */
  logLines: number;
  /**
   * Size-based rotation of each worker's log files (`<dataDir>/logs/<worker>.out.log`,
   * `.err.log`): once a file is over `maxBytes` it is copied to `<file>.1` (older copies shift to
   * `.2` … `.keep`; the oldest is deleted) and emptied in place. `keep` 0: emptied, no copy kept.
   */
  logs: { maxBytes: number; keep: number };
}

export const DEFAULTS = {
  proxy: { host: '127.0.0.1', port: 8080 },
  control: { host: '127.0.0.1', port: 8090 },
  dataDir: '.handover',
  pool: {
    sessionPathParameter: null,
    routeCookie: 'handover_route',
    idleTimeoutSeconds: 1800,
    maxSessions: 1_000_000,
    sessionCookieDuplicates: 'first',
    revision: 'unversioned',
    instances: 1,
    healthCheck: { path: '/healthz', timeoutSeconds: 30, intervalMs: 200, everySeconds: 5, failuresBeforeUnhealthy: 3 },
    stop: { graceSeconds: 10 },
    // A day: no session in normal use is cut (Tomcat waits for sessions without a limit, but they
    // end by their 30 min idle timeout), yet an old revision never lingers for good (what
    // HAProxy's hard-stop-after is set for); null opts out.
    drain: { maxSeconds: 24 * 3600, unconfirmedSeconds: 60 },
    restart: { minUptimeSeconds: 5, maxRestarts: 5, backoffInitialMs: 500, backoffMaxMs: 30_000 },
    logLines: 500,
    logs: { maxBytes: 10 * 1024 * 1024, keep: 3 },
  },
} as const;

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

/** `HANDOVER_POOL_<NAME>_BASE_PORT` for a pool name: upper-cased, "-" → "_". */
export function poolBasePortEnvVar(poolName: string): string {
  return `HANDOVER_POOL_${poolName.toUpperCase().replace(/-/g, '_')}_BASE_PORT`;
}

/** `HANDOVER_POOL_<NAME>_PROXY_PORT` for a pool name: upper-cased, "-" → "_". */
export function poolProxyPortEnvVar(poolName: string): string {
  return `HANDOVER_POOL_${poolName.toUpperCase().replace(/-/g, '_')}_PROXY_PORT`;
}

const TOP_LEVEL_OVERRIDES: Array<{ variable: string; path: [string, string] | [string]; number: boolean }> = [
  { variable: 'HANDOVER_PROXY_HOST', path: ['proxy', 'host'], number: false },
  { variable: 'HANDOVER_PROXY_PORT', path: ['proxy', 'port'], number: true },
  { variable: 'HANDOVER_CONTROL_HOST', path: ['control', 'host'], number: false },
  { variable: 'HANDOVER_CONTROL_PORT', path: ['control', 'port'], number: true },
  { variable: 'HANDOVER_DATA_DIR', path: ['dataDir'], number: false },
];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An environment value as it goes into the config: trimmed; digits become a number, anything else stays a string (and fails validation, named). */
function envValue(raw: string, number: boolean): unknown {
  const v = raw.trim();
  return number && /^\d+$/.test(v) ? Number(v) : v;
}

/**
 * Applies the HANDOVER_* environment overrides to a copy of the raw file contents.
 * Returns the copy, which config path each variable set (to name it in errors), and problems
 * with variables that match no pool.
 */
function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv) {
  const sources = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  if (!isObject(raw)) return { value: raw, sources, issues };
  const value: Json = structuredClone(raw);

  for (const o of TOP_LEVEL_OVERRIDES) {
    const set = env[o.variable];
    if (set === undefined || set.trim() === '') continue;
    if (o.path.length === 1) {
      value[o.path[0]] = envValue(set, o.number);
    } else {
      const [section, field] = o.path;
      if (value[section] === undefined) value[section] = {};
      const target = value[section];
      if (!isObject(target)) continue; // the section itself is invalid; validation says so
      target[field] = envValue(set, o.number);
    }
    sources.set(o.path.join('.'), o.variable);
  }

  const pools = Array.isArray(value.pools) ? value.pools : [];
  const byVariable = new Map<string, { index: number; field: 'basePort' | 'proxyPort' }>();
  pools.forEach((pool, index) => {
    if (!isObject(pool) || typeof pool.name !== 'string') return;
    byVariable.set(poolBasePortEnvVar(pool.name), { index, field: 'basePort' });
    byVariable.set(poolProxyPortEnvVar(pool.name), { index, field: 'proxyPort' });
  });
  for (const [variable, set] of Object.entries(env)) {
    const kind = /^HANDOVER_POOL_.+_(BASE|PROXY)_PORT$/.exec(variable)?.[1];
    if (!kind || set === undefined || set.trim() === '') continue;
    const target = byVariable.get(variable);
    if (target === undefined) {
      const names = pools.filter(isObject).map((p) => String(p.name));
      issues.push({
        path: variable,
        message: `no pool matches this environment variable (pools: ${names.join(', ') || 'none'}; the variable for a pool is HANDOVER_POOL_<NAME>_${kind}_PORT, name upper-cased, "-" as "_")`,
      });
      continue;
    }
    (pools[target.index] as Json)[target.field] = envValue(set, true);
    sources.set(`pools[${target.index}].${target.field}`, variable);
  }
  return { value, sources, issues };
}

export function formatPath(segments: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out ? `.${String(s)}` : String(s);
  }
  return out;
}

function formatValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Walks the schema along `segments` to the object there, to list the fields it knows. */
function knownFields(segments: ReadonlyArray<PropertyKey>): string[] {
  let schema: z.core.$ZodType = fileSchema;
  const unwrap = () => {
    for (;;) {
      const def = schema._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
      if (def.innerType) schema = def.innerType;
      else if (def.type === 'pipe' && def.in) schema = def.in;
      else return def;
    }
  };
  for (const s of segments) {
    const def = unwrap() as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
    if (def.type === 'array' && typeof s === 'number' && def.element) schema = def.element;
    else if (def.type === 'object' && def.shape && typeof s === 'string' && def.shape[s]) schema = def.shape[s];
    else return [];
  }
  const def = unwrap() as { type: string; shape?: Record<string, unknown> };
  return def.type === 'object' && def.shape ? Object.keys(def.shape).filter((k) => k !== '$schema') : [];
}

/** Edit distance where swapping two neighbouring letters counts as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

function unknownFieldMessage(key: string, known: string[]): string {
  const lower = key.toLowerCase();
  const close = known
    .map((k) => ({ k, d: k.toLowerCase() === lower ? 0 : editDistance(lower, k.toLowerCase()) }))
    .filter((c) => c.d <= Math.max(1, Math.floor(key.length / 3)))
    .sort((a, b) => a.d - b.d)[0];
  if (close) return `unknown field (did you mean "${close.k}"?)`;
  return known.length ? `unknown field (known fields: ${known.join(', ')})` : 'unknown field';
}

function zodIssues(error: z.ZodError, sources: Map<string, string>): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownFields(issue.path);
      for (const key of issue.keys) out.push({ path: formatPath([...issue.path, key]), message: unknownFieldMessage(key, known) });
      continue;
    }
    const p = formatPath(issue.path);
    const input = (issue as { input?: unknown }).input;
    let message: string;
    if (issue.code === 'invalid_type' && input === undefined) {
      message = `required field missing (${issue.message})`;
    } else if (issue.code === 'invalid_type' || issue.code === 'too_small' || issue.code === 'too_big' || issue.code === 'invalid_format' || issue.code === 'custom') {
      const describable = input !== undefined && !(issue.code === 'custom' && typeof input === 'object' && input !== null);
      message = !describable || issue.message.includes(', got ') ? issue.message : `${issue.message}, got ${formatValue(input)}`;
    } else {
      message = issue.message;
    }
    const source = sources.get(p);
    if (source) message += ` (from the environment variable ${source})`;
    out.push({ path: p, message });
  }
  return out;
}

/** Checks that need the whole configuration: unique names, ports that would collide. */
function crossChecks(file: ConfigFile, proxyPort: number, controlPort: number, sources: Map<string, string>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const from = (p: string) => (sources.has(p) ? ` (from the environment variable ${sources.get(p)})` : '');
  if (proxyPort === controlPort) {
    issues.push({ path: 'control.port', message: `${controlPort} is also the proxy port (proxy.port); they must differ${from('control.port') || from('proxy.port')}` });
  }
  const firstByName = new Map<string, number>();
  const firstByBasePort = new Map<number, number>();
  file.pools.forEach((pool, i) => {
    const seen = firstByName.get(pool.name);
    if (seen !== undefined) issues.push({ path: `pools[${i}].name`, message: `duplicate pool name "${pool.name}" (also pools[${seen}].name)` });
    else firstByName.set(pool.name, i);

    const where = `pools[${i}].basePort`;
    if (pool.basePort === proxyPort) issues.push({ path: where, message: `${pool.basePort} is the proxy port (proxy.port); pick another${from(where)}` });
    else if (pool.basePort === controlPort) issues.push({ path: where, message: `${pool.basePort} is the control port (control.port); pick another${from(where)}` });
    else {
      const other = firstByBasePort.get(pool.basePort);
      if (other !== undefined) issues.push({ path: where, message: `${pool.basePort} is also the basePort of pools[${other}] ("${file.pools[other]!.name}"); pick another${from(where)}` });
      else firstByBasePort.set(pool.basePort, i);
    }

    const pp = `pools[${i}].proxyPort`;
    if (pool.proxyPort == null) {
      if (i > 0) issues.push({ path: pp, message: 'required when there are several pools: only the first pool uses proxy.port, each further pool needs a public port of its own' });
    } else {
      const clash = proxyPortClash(file, i, pool.proxyPort, proxyPort, controlPort);
      if (clash) issues.push({ path: pp, message: `${pool.proxyPort} is ${clash}; pick another${from(pp)}` });
    }
    if (pool.revision !== undefined && pool.revisionFile !== undefined) {
      issues.push({ path: `pools[${i}].revisionFile`, message: 'set either "revision" or "revisionFile", not both' });
    }
    if ((pool.routeCookie ?? DEFAULTS.pool.routeCookie) === pool.sessionCookie) {
      issues.push({ path: `pools[${i}].routeCookie`, message: `must differ from sessionCookie ("${pool.sessionCookie}"): it is the proxy's own cookie` });
    }
    const restart = pool.restart;
    if (restart?.backoffInitialMs !== undefined && restart.backoffMaxMs !== undefined && restart.backoffMaxMs < restart.backoffInitialMs) {
      issues.push({ path: `pools[${i}].restart.backoffMaxMs`, message: `must be at least restart.backoffInitialMs (${restart.backoffInitialMs})` });
    }
  });
  return issues;
}

/** What a pool's own proxyPort collides with, or null. */
function proxyPortClash(file: ConfigFile, index: number, port: number, proxyPort: number, controlPort: number): string | null {
  if (port === controlPort) return 'the control port (control.port)';
  if (index > 0 && port === proxyPort && file.pools[0]!.proxyPort == null) return 'proxy.port, the public port of the first pool';
  const base = file.pools.findIndex((o) => o.basePort === port);
  if (base >= 0) return base === index ? "this pool's basePort" : `the basePort of pools[${base}]`;
  const earlier = file.pools.findIndex((o, j) => j < index && o.proxyPort === port);
  if (earlier >= 0) return `the proxyPort of pools[${earlier}]`;
  return null;
}

function revisionOf(pool: PoolFile, index: number, dir: string, options: ParseConfigOptions, issues: ConfigIssue[]): string {
  if (pool.revision !== undefined) return pool.revision.trim();
  if (pool.revisionFile === undefined) return DEFAULTS.pool.revision;
  const at = `pools[${index}].revisionFile`;
  const file = path.resolve(dir, pool.revisionFile);
  if (!options.readRevisionFile) {
    issues.push({ path: at, message: `cannot read ${file}: parseConfig was given no readRevisionFile (use loadConfig)` });
    return DEFAULTS.pool.revision;
  }
  let contents: string;
  try {
    contents = options.readRevisionFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    issues.push({ path: at, message: code === 'ENOENT' ? `file not found: ${file}` : `cannot read ${file}: ${(err as Error).message}` });
    return DEFAULTS.pool.revision;
  }
  const label = contents.trim();
  if (!label) issues.push({ path: at, message: `${file} is empty; it should hold the revision label, e.g. "v2"` });
  else if (/[\r\n]/.test(label)) issues.push({ path: at, message: `${file} holds several lines; it should hold one revision label` });
  else if (label.length > 200) issues.push({ path: at, message: `the revision label in ${file} is too long (at most 200 characters)` });
  return label;
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
  const result = fileSchema.safeParse(overridden.value, { reportInput: true });
  const issues = [...overridden.issues];
  if (!result.success) {
    issues.push(...zodIssues(result.error, overridden.sources));
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

/** The revisionFile paths (absolute) a raw configuration mentions, so they can be read up front. */
export function revisionFilesOf(raw: unknown, configPath: string): string[] {
  const dir = path.dirname(path.resolve(configPath));
  if (!isObject(raw) || !Array.isArray(raw.pools)) return [];
  return raw.pools.flatMap((p) => (isObject(p) && typeof p.revisionFile === 'string' && p.revisionFile.trim() ? [path.resolve(dir, p.revisionFile)] : []));
}

/**
 * The public port of pool `index`: its own `proxyPort`, or `proxy.port` for the first pool.
 * Undefined only for a later pool without one, which parseConfig refuses.
 */
export function poolProxyPort(config: HandoverConfig, index: number): number | undefined {
  return config.pools[index]?.proxyPort ?? (index === 0 ? config.proxy.port : undefined);
}
