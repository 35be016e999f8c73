/**
 * One request under construction: what goes on the wire and what the worker must see if the
 * proxy forwards it. Mutations (mutations.ts) edit a Draft; `serialize` makes the bytes.
 */
import type { Rng } from './prng';
import type { Header } from './wire';

/** valid: must be forwarded exactly. invalid: must get 4xx, never reach the worker. ambiguous: either, but exact if forwarded. */
export type Kind = 'valid' | 'invalid' | 'ambiguous';

export interface Draft {
  id: string;
  kind: Kind;
  /** What was done to the request (for reports). */
  why: string[];
  method: string;
  /** The target as written. */
  target: string;
  /** The target the worker must see (origin form). */
  expectTarget: string;
  version: string;
  /** Header lines as written (no CRLF). */
  lines: string[];
  /** End-to-end headers the worker must see, besides Host/framing/X-Forwarded-* (the proxy's business). */
  expect: Header[];
  /** The Host the worker must see; undefined: any one Host (HTTP/1.0 without one). */
  host: string | undefined;
  body: Buffer;
  framing: 'none' | 'cl' | 'chunked';
  /** Chunk sizes, and an extension per chunk ('' for none). */
  chunks: number[];
  exts: string[];
  trailers: string[];
  /** Bytes before the request line. */
  pre: string;
  /** Text edits of the serialized head, applied last (bare LF…). */
  headEdits: ((head: string) => string)[];
  /** Raw bytes replacing the chunked body encoding (bad chunks). */
  rawBody: Buffer | undefined;
  /** X-Fuzz-Do: how the echo worker answers. */
  directives: string[];
  /** Nothing after this request is processed (Connection: close, HTTP/1.0). */
  closes: boolean;
  /** The client waits for the 100 Continue before sending the body. */
  expectContinue: boolean;
  /** The worker answers before the body ends; the client waits for that answer mid-body. */
  early: boolean;
  /** Transfer codings other than chunked the worker must still see ('gzip, chunked'). */
  codings: string | undefined;
  /** Answered by the proxy itself (/healthz): never reaches the worker. */
  local: boolean;
  /** Bodies are cut to this many bytes (the shrinker's smaller variant of the same stream). */
  maxBody: number;
  /** A WebSocket handshake: a 101 and an echoing tunnel are expected; nothing after it is HTTP. */
  websocket: boolean;
}

export const TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const PCHAR = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@%";
const VCHAR_LIKE = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export function newDraft(rng: Rng, id: string, maxBody = Infinity): Draft {
  const method = rng.weighted<string>([[6, 'GET'], [4, 'POST'], [1, 'PUT'], [1, 'PATCH'], [1, 'DELETE'], [1, 'HEAD'], [1, 'OPTIONS']]);
  const target = randomTarget(rng);
  const host = rng.pick(['example.test', 'app.local:8080', 'x', '127.0.0.1']);
  const d: Draft = {
    id, kind: 'valid', why: [], method, target, expectTarget: target, version: 'HTTP/1.1', lines: [], expect: [], host,
    body: Buffer.alloc(0), framing: 'none', chunks: [], exts: [], trailers: [], pre: '', headEdits: [], rawBody: undefined,
    directives: [], closes: false, expectContinue: false, early: false, codings: undefined, local: false, maxBody, websocket: false,
  };
  d.lines.push(`Host: ${host}`);
  addHeader(d, 'X-Fuzz-Id', id);
  const extra = rng.weighted([[6, rng.int(0, 4)], [1, rng.int(30, 60)]]);
  for (let i = 0; i < extra; i++) addHeader(d, randomName(rng), randomValue(rng));
  if (rng.chance(0.7) && method !== 'HEAD' && method !== 'GET' && method !== 'OPTIONS') setBody(d, rng);
  else if (rng.chance(0.05)) setBody(d, rng);
  return d;
}

/** An end-to-end header: written, and expected at the worker as written. */
export function addHeader(d: Draft, name: string, value: string): void {
  d.lines.push(`${name}: ${value}`);
  d.expect.push([name, value.replace(/^[ \t]+|[ \t]+$/g, '')]);
}

/** A hop-by-hop or internal header: written, never expected at the worker. */
export function addHop(d: Draft, name: string, value: string): void {
  d.lines.push(`${name}: ${value}`);
}

export function randomTarget(rng: Rng): string {
  let path = '';
  const segments = rng.int(0, 4);
  for (let i = 0; i < segments; i++) path += `/${rng.string(PCHAR, 0, 12)}`;
  if (path === '') path = '/';
  if (rng.chance(0.3)) path += `?${rng.string(`${PCHAR}/?`, 0, 30)}`;
  if (rng.chance(0.03)) path += `/${'a'.repeat(rng.int(500, 4000))}`;
  return path;
}

export function randomName(rng: Rng): string {
  return `X-${rng.string(TCHAR, 1, 14)}`;
}

export function randomValue(rng: Rng): string {
  if (rng.chance(0.05)) return '';
  let v = rng.string(VCHAR_LIKE, 1, 40).trim();
  if (rng.chance(0.05)) v += '\t\xe9\xff obs-text';
  if (rng.chance(0.02)) v += 'x'.repeat(rng.int(1000, 6000));
  return v.replace(/^[ \t]+|[ \t]+$/g, '') || 'v';
}

/** A random body, framed by Content-Length or chunked (with extensions and trailers sometimes). */
export function setBody(d: Draft, rng: Rng, framing = rng.chance(0.5) ? 'cl' : 'chunked'): void {
  const size = rng.weighted([[5, rng.int(1, 64)], [3, rng.int(65, 3000)], [1, rng.int(20_000, 120_000)], [1, 0]]);
  let full = rng.bytes(size);
  if (rng.chance(0.1) && size > 0) {
    // A complete request inside the body: if the proxy ever drops the framing, the worker parses it.
    const smuggled = Buffer.from(`GET /smuggled HTTP/1.1\r\nHost: x\r\nX-Fuzz-Id: smuggled.${d.id}\r\n\r\n`, 'latin1');
    full = Buffer.concat([smuggled, full.subarray(0, Math.max(0, size - smuggled.length))]);
  }
  // Drawn at full size then cut, so a capped stream draws the same numbers as the original.
  d.body = full.subarray(0, d.maxBody);
  if (framing === 'cl') {
    d.framing = 'cl';
    d.chunks = [];
    return;
  }
  d.framing = 'chunked';
  d.chunks = [];
  d.exts = [];
  let kept = d.body.length;
  for (let left = full.length; left > 0; ) {
    const n = Math.min(left, rng.weighted([[4, rng.int(1, 16)], [3, rng.int(17, 4096)], [1, left]]));
    const ext = rng.chance(0.1) ? rng.pick([';a=b', ';x', ';q="v w"', ';a=1;b=2']) : '';
    if (kept > 0) {
      d.chunks.push(Math.min(n, kept));
      d.exts.push(ext);
      kept -= n;
    }
    left -= n;
  }
  if (rng.chance(0.25)) d.trailers.push(`X-Fuzz-Trailer-Req: ${d.id}`, `X-Fuzz-Trailer-Two: t`);
}

/** The request's bytes, and where its head ends inside them. */
export function serialize(d: Draft, rng: Rng): { bytes: Buffer; headEnd: number } {
  const lines = [...d.lines];
  if (d.framing === 'cl' && !lines.some((l) => /^content-length:/i.test(l))) lines.push(`Content-Length: ${d.body.length}`);
  if (d.framing === 'chunked' && !lines.some((l) => /^transfer-encoding:/i.test(l))) lines.push('Transfer-Encoding: chunked');
  if (d.directives.length > 0) lines.push(`X-Fuzz-Do: ${d.directives.join(' ')}`);
  // The order of header lines must not matter to the proxy; keep X-Fuzz-* where they are.
  if (rng.chance(0.3)) lines.reverse();
  let head = `${d.pre}${d.method} ${d.target} ${d.version}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
  for (const edit of d.headEdits) head = edit(head);
  let body: Buffer;
  if (d.rawBody !== undefined) body = d.rawBody;
  else if (d.framing === 'chunked') {
    const parts: Buffer[] = [];
    let at = 0;
    d.chunks.forEach((n, i) => {
      const size = rng.chance(0.05) ? n.toString(16).padStart(4, '0') : rng.chance(0.5) ? n.toString(16) : n.toString(16).toUpperCase();
      parts.push(Buffer.from(`${size}${d.exts[i] ?? ''}\r\n`, 'latin1'), d.body.subarray(at, at + n), Buffer.from('\r\n'));
      at += n;
    });
    parts.push(Buffer.from(`0\r\n${d.trailers.map((t) => `${t}\r\n`).join('')}\r\n`, 'latin1'));
    body = Buffer.concat(parts);
  } else body = d.framing === 'cl' ? d.body : Buffer.alloc(0);
  const headBytes = Buffer.from(head, 'latin1');
  return { bytes: Buffer.concat([headBytes, body]), headEnd: headBytes.length };
}
