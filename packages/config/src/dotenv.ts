import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from './errors';

/**
 * Parses .env text: `KEY=VALUE` lines, optional `export ` prefix, blank lines and `#` comments.
 * Values may be unquoted (trimmed; a ` #` starts a comment), single-quoted (literal), or
 * double-quoted (escapes \n \r \t \" \\; may span lines). No variable expansion.
 * Throws a ConfigError naming the line of anything else.
 */
export function parseDotEnv(text: string, file = '.env'): Record<string, string> {
  const out: Record<string, string> = {};
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const lines = src.split('\n');
  const issues: Array<{ path: string; message: string }> = [];
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const line = lines[n]!;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(line);
    if (!m) {
      issues.push({ path: `line ${lineNo}`, message: `expected KEY=VALUE, got ${JSON.stringify(trimmed.length > 40 ? `${trimmed.slice(0, 37)}...` : trimmed)}` });
      continue;
    }
    const key = m[1]!;
    let rest = m[2]!;
    const quote = rest[0];
    if (quote === '"' || quote === "'" || quote === '`') {
      // Find the closing quote, possibly on a later line.
      let body = rest.slice(1);
      let close = findClose(body, quote);
      while (close < 0 && n + 1 < lines.length) {
        n++;
        body += `\n${lines[n]}`;
        close = findClose(body, quote);
      }
      if (close < 0) {
        issues.push({ path: `line ${lineNo}`, message: `${key}: unterminated ${quote} quote` });
        break;
      }
      const after = body.slice(close + 1).trim();
      if (after && !after.startsWith('#')) {
        issues.push({ path: `line ${lineNo}`, message: `${key}: unexpected text after the closing quote` });
        continue;
      }
      let value = body.slice(0, close);
      if (quote === '"') {
        value = value.replace(/\\([nrt"\\])/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' })[c]!);
      }
      out[key] = value;
    } else {
      const hash = rest.search(/\s#/);
      if (hash >= 0) rest = rest.slice(0, hash);
      out[key] = rest.trim();
    }
  }
  if (issues.length) throw new ConfigError(file, issues, `Cannot parse ${file}:`);
  return out;
}

function findClose(body: string, quote: string): number {
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\' && quote === '"') {
      i++;
      continue;
    }
    if (body[i] === quote) return i;
  }
  return -1;
}

/**
 * Loads a .env file into `env` (default process.env) without overriding variables that are
 * already set (the real environment wins). Returns the keys it set; a missing file sets none.
 */
export async function loadDotEnv(file: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(abs, [{ path: '', message: (err as Error).message }], `Cannot read ${abs}:`);
  }
  const set: string[] = [];
  for (const [key, value] of Object.entries(parseDotEnv(text, abs))) {
    if (env[key] !== undefined) continue;
    env[key] = value;
    set.push(key);
  }
  return set;
}
