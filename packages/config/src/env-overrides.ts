/** The HANDOVER_* environment variables that override fields of the configuration file. */
import type { ConfigIssue } from './errors';
import { isObject, type Json } from './json-object';

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
export function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv) {
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
