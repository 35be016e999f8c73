/**
 * A seeded PRNG (mulberry32) and the few draws the generator needs. No dependency, and the same
 * seed gives the same streams on every machine, so a finding's seed is a reproduction.
 */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Picks by weight: [[weight, value], …]. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of items) total += w;
    let at = this.next() * total;
    for (const [w, value] of items) {
      if ((at -= w) < 0) return value;
    }
    return (items[items.length - 1] as readonly [number, T])[1];
  }

  /** Random bytes; mostly printable so reproductions stay readable, sometimes any byte. */
  bytes(length: number, binary = this.chance(0.2)): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = binary ? this.int(0, 255) : this.int(0x20, 0x7e);
    return out;
  }

  /** A string drawn from `alphabet`. */
  string(alphabet: string, min: number, max: number): string {
    const n = this.int(min, max);
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }
}

/** Derives an independent seed for stream `index` of run `seed` (so one stream replays alone). */
export function streamSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a over bytes, as 8 hex digits: the body digest the echo worker and the client both compute. */
export function fnv(data: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) {
    h ^= data[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
