/**
 * Reproductions on disk (fuzz/regressions/*.json) and on screen (a JS string literal of the raw
 * bytes). A saved reproduction keeps what the checker needs to judge a replay: each request's
 * label, what the worker must see, and the write plan.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GenRequest, GenStream } from './generate';

export const REGRESSIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'regressions');

export interface Regression {
  /** What it found, when, with which seed. */
  title: string;
  streams: GenStream[];
}

/** Buffers as latin1 strings, so the JSON shows the bytes readably. */
export function toJson(reg: Regression): string {
  return JSON.stringify(reg, (key, value: unknown) => {
    if (value !== null && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
      return { latin1: Buffer.from((value as { data: number[] }).data).toString('latin1') };
    }
    return value;
  }, 1);
}

export function fromJson(text: string): Regression {
  return JSON.parse(text, (key, value: unknown) => {
    if (value !== null && typeof value === 'object' && typeof (value as { latin1?: unknown }).latin1 === 'string') {
      return Buffer.from((value as { latin1: string }).latin1, 'latin1');
    }
    return value;
  }) as Regression;
}

export function loadRegressions(dir = REGRESSIONS_DIR): { file: string; regression: Regression }[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, regression: fromJson(fs.readFileSync(path.join(dir, file), 'utf8')) }));
}

export function saveRegression(reg: Regression, name: string, dir = REGRESSIONS_DIR): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name.replace(/[^a-zA-Z0-9_.-]+/g, '-')}.json`);
  fs.writeFileSync(file, `${toJson(reg)}\n`);
  return file;
}

/** A JS string literal of raw bytes; long runs of one character become '…'.repeat(n). */
export function literal(bytes: Buffer, max = 1200): string {
  const esc = (c: number) => {
    if (c === 13) return '\\r';
    if (c === 10) return '\\n';
    if (c === 9) return '\\t';
    if (c === 39) return "\\'";
    if (c === 92) return '\\\\';
    if (c < 0x20 || c >= 0x7f) return `\\x${c.toString(16).padStart(2, '0')}`;
    return String.fromCharCode(c);
  };
  const parts: string[] = [];
  let text = '';
  for (let i = 0; i < bytes.length; ) {
    let j = i;
    while (j < bytes.length && bytes[j] === bytes[i]) j++;
    if (j - i >= 24) {
      if (text) parts.push(`'${text}'`);
      text = '';
      parts.push(`'${esc(bytes[i] as number)}'.repeat(${j - i})`);
    } else for (let k = i; k < j; k++) text += esc(bytes[k] as number);
    i = j;
  }
  if (text) parts.push(`'${text}'`);
  const out = parts.join(' +\n  ') || "''";
  return out.length > max ? `${out.slice(0, max)}… (${bytes.length} bytes; full stream in the saved JSON)` : out;
}

/** One request's line in a report: id, label, what was done to it. */
export function describe(r: GenRequest): string {
  return `${r.id} [${r.kind}] ${r.method} ${r.expectTarget.slice(0, 40)} body ${r.body.length} B; ${r.why.join(', ')}; worker: ${r.directives.join(' ')}`;
}
