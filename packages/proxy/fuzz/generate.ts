/**
 * Streams: one client connection each, 1–N requests written with random split points, pipelined
 * or one at a time, sometimes cut off (FIN or reset) at a random byte. Everything comes from
 * the stream's own seed, so any stream regenerates alone from (run seed, index).
 */
import { type Draft, type Kind, newDraft, serialize } from './draft';
import { mutate } from './mutations';
import { Rng, streamSeed } from './prng';
import type { Header } from './wire';

export interface GenRequest {
  id: string;
  kind: Kind;
  why: string[];
  method: string;
  version: string;
  expectTarget: string;
  expect: Header[];
  host: string | undefined;
  body: Buffer;
  directives: string[];
  closes: boolean;
  early: boolean;
  codings: string | undefined;
  local: boolean;
  websocket: boolean;
  /** Offsets of this request's bytes in the stream. */
  start: number;
  end: number;
}

/**
 * Before writing byte `at`, wait until request `index` has its answer ('response'), a 1xx
 * ('continue'), or the first bytes of its answer ('started': more bytes while it streams).
 */
export interface Wait {
  at: number;
  index: number;
  what: 'response' | 'continue' | 'started';
}

export interface GenStream {
  /** "seed/index": how to regenerate it. */
  name: string;
  /** Where it came from: generateStream(seed, index, maxBody) gives it again (before any rebuild). */
  origin: { seed: number; index: number; maxBody: number };
  requests: GenRequest[];
  bytes: Buffer;
  /** Offsets where a new write starts. */
  splits: number[];
  waits: Wait[];
  /** Pause ~1 ms between writes (else only a turn of the event loop). */
  paced: boolean;
  cut: { at: number; how: 'end' | 'destroy' } | undefined;
}

function directives(rng: Rng, d: Draft): void {
  const out = d.directives;
  out.push(rng.weighted([[5, 'cl'], [4, 'chunked'], [1, 'eof']]));
  if (out.includes('chunked') && rng.chance(0.35)) out.push('trailers');
  if (rng.chance(0.08)) out.push('close');
  if (rng.chance(0.08)) out.push(rng.pick(['ka1', 'ka2', 'ka9']));
  if (rng.chance(0.05)) out.push('info');
  if (rng.chance(0.08)) out.push('slow');
  if (rng.chance(0.1)) out.push('hop');
  if (rng.chance(0.05)) out.push('connlen');
  if (rng.chance(0.05)) out.push(rng.pick(['s204', 's304']));
  if (rng.chance(0.1)) out.push('many');
  if (rng.chance(0.05)) out.push('session');
  out.push(`pad${rng.weighted([[6, rng.int(0, 200)], [3, rng.int(200, 5000)], [1, rng.int(30_000, 150_000)]])}`);
}

export function generateStream(seed: number, index: number, maxBody = Infinity): GenStream {
  const rng = new Rng(streamSeed(seed, index));
  const count = rng.weighted([[4, 1], [4, rng.int(2, 3)], [2, rng.int(4, 8)]]);
  const requests: GenRequest[] = [];
  const parts: Buffer[] = [];
  const waits: Wait[] = [];
  const sequential = rng.chance(0.5);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    // Each request draws from its own generator, so a smaller variant of one leaves the others alone.
    const rq = new Rng(streamSeed(streamSeed(seed, index), i + 1));
    const d = newDraft(rq, `f${index}.${i}`, maxBody);
    directives(rq, d);
    mutate(d, rq);
    const { bytes, headEnd } = serialize(d, rq);
    // A head near the size limit may or may not fit (the parser counts differently): either answer is fine.
    if (headEnd > 12_000 && d.kind === 'valid') d.kind = 'ambiguous';
    if (sequential && i > 0) waits.push({ at: offset, index: i - 1, what: 'response' });
    else if (i > 0 && (requests[i - 1] as GenRequest).closes && rng.chance(0.5)) waits.push({ at: offset, index: i - 1, what: 'started' });
    if (d.expectContinue) waits.push({ at: offset + headEnd, index: i, what: 'continue' });
    if (d.early) waits.push({ at: offset + headEnd + rng.int(0, Math.min(8, bytes.length - headEnd - 1)), index: i, what: 'response' });
    requests.push({
      id: d.id, kind: d.kind, why: d.why, method: d.method, version: d.version, expectTarget: d.expectTarget,
      expect: d.expect, host: d.host, body: d.body, directives: d.directives, closes: d.closes, early: d.early,
      codings: d.codings, local: d.local, websocket: d.websocket, start: offset, end: offset + bytes.length,
    });
    parts.push(bytes);
    offset += bytes.length;
    // After a WebSocket handshake the connection is a tunnel: no more HTTP on it.
    if (d.websocket) break;
  }
  const bytes = Buffer.concat(parts);
  const splits = new Set<number>();
  const pieces = rng.weighted([[3, 0], [4, rng.int(1, 6)], [1, rng.int(7, 40)]]);
  for (let i = 0; i < pieces; i++) splits.add(rng.int(1, bytes.length - 1));
  for (const r of requests) if (rng.chance(0.3)) splits.add(r.start);
  splits.delete(0);
  const cut = rng.chance(0.15) ? { at: rng.int(1, bytes.length), how: rng.pick(['end', 'destroy'] as const) } : undefined;
  return {
    name: maxBody === Infinity ? `${seed}/${index}` : `${seed}/${index} (bodies ≤ ${maxBody} B)`,
    origin: { seed, index, maxBody },
    requests,
    bytes,
    splits: [...splits].sort((a, b) => a - b),
    waits,
    paced: rng.chance(0.3),
    cut,
  };
}
