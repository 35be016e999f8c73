/** Turns schema validation failures into ConfigIssues: field paths, values and "did you mean" hints. */
import * as v from '@handover/validation';
import type { ConfigIssue } from './errors';
import { fileSchema } from './schema';

export function formatPath(segments: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out ? `.${String(s)}` : String(s);
  }
  return out;
}

export function formatValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Walks the schema along `segments` to the object there, to list the fields it knows. */
function knownFields(segments: ReadonlyArray<PropertyKey>): string[] {
  let schema: v.AnySchema = fileSchema;
  // Past .optional(), .nullable() and .default() to the schema they wrap.
  const unwrap = () => {
    while (schema instanceof v.Wrapper) schema = schema.inner;
    return schema;
  };
  for (const s of segments) {
    const at = unwrap();
    if (at instanceof v.ArraySchema && typeof s === 'number') schema = at.element;
    else if (at instanceof v.ObjectSchema && typeof s === 'string' && Object.hasOwn(at.shape, s)) schema = at.shape[s]!;
    else return [];
  }
  const at = unwrap();
  return at instanceof v.ObjectSchema ? Object.keys(at.shape).filter((k) => k !== '$schema') : [];
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

export function schemaIssues(issues: readonly v.Issue[], sources: Map<string, string>): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownFields(issue.path);
      for (const key of issue.keys) out.push({ path: formatPath([...issue.path, key]), message: unknownFieldMessage(key, known) });
      continue;
    }
    const p = formatPath(issue.path);
    const input = issue.input;
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
