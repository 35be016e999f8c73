/**
 * How the configuration file differs from what runs: the attached workers' revision, command,
 * directory and environment (a sync replaces such workers), how many are attached, and the
 * pool settings a sync applies in place or that take a restart. Environment values and probe
 * headers are never shown: they may be secrets.
 */
import type { PoolConfig } from '@handover/config';
import type { PoolDrift } from '@handover/process-table';
import type { Pool } from './pool';
import type { Worker } from './worker';

export interface Drift {
  /** One line per difference (PoolDrift.changes). */
  changes: string[];
  /** Started workers a sync would replace (another revision, command, cwd or env). */
  stale: Worker[];
  /** Workers a sync would start to reach `instances` (after the replacements). */
  missing: number;
  runningRevisions: string[];
}

/** Settings a sync does not apply: they take a supervisor restart. */
const RESTART_ONLY = new Set(['sessionCookie', 'routeCookie', 'maxSessions', 'proxyPort']);
/** Fields compared worker by worker, or not at all (name never differs). */
const PER_WORKER = new Set(['name', 'revision', 'command', 'cwd', 'env', 'instances']);
/** Objects whose values are not shown. */
const SECRET_VALUES = new Set(['env', 'sessionProbe.headers']);

export function attachedWorkers(pool: Pool): Worker[] {
  return pool.workers.filter((worker) => worker.state === 'starting' || worker.state === 'started');
}

export function runningRevisions(pool: Pool): string[] {
  return [...new Set(attachedWorkers(pool).map((worker) => worker.revision))].sort();
}

/** What a worker runs that the file no longer says; [] when it agrees (a re-adopted worker: its revision only). */
export function workerChanges(worker: Worker, file: PoolConfig): string[] {
  const changes: string[] = [];
  const ran = worker.startConfig;
  if (ran === null) return changes;
  if (ran.command !== file.command) changes.push('command');
  if (ran.cwd !== file.cwd) changes.push('cwd');
  if (JSON.stringify(sorted(ran.env)) !== JSON.stringify(sorted(file.env))) changes.push('env');
  return changes;
}

export function isStale(worker: Worker, file: PoolConfig): boolean {
  return worker.revision !== file.revision || workerChanges(worker, file).length > 0;
}

/** The differences between the file's entry for this pool and what runs. */
export function poolDrift(pool: Pool, file: PoolConfig): Drift {
  const attached = attachedWorkers(pool);
  const changes: string[] = [];
  const stale = attached.filter((worker) => worker.state === 'started' && isStale(worker, file));

  const byRevision = new Map<string, string[]>();
  for (const worker of attached) {
    if (worker.revision === file.revision) continue;
    byRevision.set(worker.revision, [...(byRevision.get(worker.revision) ?? []), worker.id]);
  }
  for (const [revision, ids] of [...byRevision].sort(([a], [b]) => a.localeCompare(b))) {
    changes.push(`revision ${revision} → ${file.revision} (${ids.join(', ')} ${ids.length === 1 ? 'runs' : 'run'} ${revision})`);
  }
  for (const field of ['command', 'cwd'] as const) {
    const ids = attached.filter((worker) => worker.startConfig !== null && worker.startConfig[field] !== file[field]).map((w) => w.id);
    if (ids.length > 0) changes.push(`${field} changed (${ids.join(', ')} ${ids.length === 1 ? 'runs' : 'run'} the old one)`);
  }
  const envNames = new Set<string>();
  for (const worker of attached) {
    if (worker.startConfig === null) continue;
    for (const line of mapChanges('env', worker.startConfig.env, file.env)) envNames.add(line);
  }
  changes.push(...[...envNames].sort());

  const wanted = file.instances;
  const missing = Math.max(0, wanted - attached.length);
  if (missing > 0) {
    changes.push(`${missing} more attached ${missing === 1 ? 'worker' : 'workers'} wanted (instances ${wanted}, ${attached.length} attached)`);
  } else if (attached.length > wanted) {
    changes.push(`instances ${wanted}, ${attached.length} attached (a sync does not detach any: detach one yourself)`);
  }

  // The pool's own settings, applied by the last sync, against the file.
  changes.push(...settingChanges(pool.config, file));
  return { changes, stale, missing, runningRevisions: runningRevisions(pool) };
}

export function toPoolDrift(file: PoolConfig, drift: Drift): PoolDrift | null {
  if (drift.changes.length === 0) return null;
  return { configuredRevision: file.revision, runningRevisions: drift.runningRevisions, changes: drift.changes };
}

/** Every other setting that differs between what the last sync applied and the file. */
export function settingChanges(applied: PoolConfig, file: PoolConfig): string[] {
  const lines: string[] = [];
  const walk = (path: string, a: unknown, b: unknown): void => {
    if (SECRET_VALUES.has(path)) {
      lines.push(...mapChanges(path, a as Record<string, string> | undefined, b as Record<string, string> | undefined));
      return;
    }
    if (isObject(a) !== isObject(b) && (a == null || b == null)) {
      // A whole section added or removed (a session probe): named, not printed (it may hold headers).
      lines.push(`${path} ${a == null ? 'added' : 'removed'} (${RESTART_ONLY.has(path) ? 'takes a supervisor restart' : 'a sync applies it'})`);
      return;
    }
    if (isObject(a) && isObject(b)) {
      for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) walk(path === '' ? key : `${path}.${key}`, a[key], b[key]);
      return;
    }
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    const top = path.split('.')[0]!;
    const how = RESTART_ONLY.has(top) ? 'takes a supervisor restart' : 'a sync applies it';
    lines.push(`${path} ${show(a)} → ${show(b)} (${how})`);
  };
  for (const key of [...new Set([...Object.keys(applied), ...Object.keys(file)])].sort()) {
    if (PER_WORKER.has(key)) continue;
    walk(key, (applied as unknown as Record<string, unknown>)[key], (file as unknown as Record<string, unknown>)[key]);
  }
  return lines;
}

function mapChanges(path: string, before: Record<string, string> | undefined | null, after: Record<string, string> | undefined | null): string[] {
  const a = before ?? {};
  const b = after ?? {};
  const lines: string[] = [];
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (!(key in a)) lines.push(`${path} ${key} added`);
    else if (!(key in b)) lines.push(`${path} ${key} removed`);
    else if (a[key] !== b[key]) lines.push(`${path} ${key} changed`);
  }
  return lines;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return value === undefined ? 'unset' : JSON.stringify(value);
}

function sorted(map: Record<string, string>): Array<[string, string]> {
  return Object.entries(map).sort(([a], [b]) => a.localeCompare(b));
}
