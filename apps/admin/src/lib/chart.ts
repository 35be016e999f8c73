import type { SessionSample } from '@handover/process-table';

/** Colour per worker, by generation: distinct hues, each at least 4.5:1 against white. */
const PALETTE = ['#1d4ed8', '#b45309', '#047857', '#be185d', '#6d28d9', '#0e7490', '#b91c1c', '#4d7c0f'];

export function workerColour(workerId: string): string {
  const generation = Number(workerId.slice(workerId.lastIndexOf('@') + 1));
  return PALETTE[(Number.isFinite(generation) ? generation : 0) % PALETTE.length]!;
}

export interface Point {
  t: number;
  v: number;
}

/**
 * Each worker's counts as runs of points; a run ends where the worker is missing from a
 * sample (it was not running), so stopped workers do not draw a line to zero forever.
 */
export function seriesByWorker(samples: readonly SessionSample[]): Map<string, Point[][]> {
  const out = new Map<string, Point[][]>();
  const open = new Set<string>();
  for (const sample of samples) {
    const t = Date.parse(sample.at);
    const present = new Set(Object.keys(sample.sessions));
    for (const id of open) if (!present.has(id)) open.delete(id);
    for (const [id, v] of Object.entries(sample.sessions)) {
      let runs = out.get(id);
      if (runs === undefined) out.set(id, (runs = []));
      if (!open.has(id)) {
        runs.push([]);
        open.add(id);
      }
      runs[runs.length - 1]!.push({ t, v });
    }
  }
  return out;
}

/** A step line (counts hold until the next sample), extended to `until` when given. */
export function stepPath(points: readonly Point[], x: (t: number) => number, y: (v: number) => number, until?: number): string {
  if (points.length === 0) return '';
  let d = `M${x(points[0]!.t).toFixed(1)},${y(points[0]!.v).toFixed(1)}`;
  for (let i = 1; i < points.length; i++) {
    d += `H${x(points[i]!.t).toFixed(1)}V${y(points[i]!.v).toFixed(1)}`;
  }
  if (until !== undefined) d += `H${x(until).toFixed(1)}`;
  return d;
}

/** Up to ~5 whole-number ticks from 0 to at least `max`. */
export function niceTicks(max: number): number[] {
  const top = Math.max(1, max);
  const rough = top / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? magnitude * 10);
  const ticks: number[] = [];
  for (let v = 0; v <= top + step - 1 && ticks.length < 12; v += step) {
    ticks.push(v);
    if (v >= top) break;
  }
  return ticks;
}
