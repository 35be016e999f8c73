/** A pool's revision label: given inline, read from its revisionFile, or the default. */
import path from 'node:path';
import { DEFAULTS } from './defaults';
import type { ConfigIssue } from './errors';
import { isObject } from './json-object';
import type { PoolFile } from './schema';

/** Pool `index`'s revision label; a revisionFile that cannot be read or holds no single label adds to `issues`. */
export function revisionOf(pool: PoolFile, index: number, dir: string, options: { readRevisionFile?: (absolutePath: string) => string }, issues: ConfigIssue[]): string {
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

/** The revisionFile paths (absolute) a raw configuration mentions, so they can be read up front. */
export function revisionFilesOf(raw: unknown, configPath: string): string[] {
  const dir = path.dirname(path.resolve(configPath));
  if (!isObject(raw) || !Array.isArray(raw.pools)) return [];
  return raw.pools.flatMap((p) => (isObject(p) && typeof p.revisionFile === 'string' && p.revisionFile.trim() ? [path.resolve(dir, p.revisionFile)] : []));
}
