import type { HandoverEvent, SessionSample } from '@handover/process-table';

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

/** The chart's data in uPlot's aligned form: one x array (ms) and one y array per worker. */
export interface ChartSeries {
  ids: string[];
  xs: number[];
  /** Per worker, per x: its sessions, or null where it was not running. */
  ys: Array<Array<number | null>>;
}

const byId = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/**
 * Samples to aligned series (#10, item 5). A worker missing from a sample after being in the one
 * before has ended: its line drops to 0 there (its sessions are gone, whether they drained or
 * not; the drop is the stop) and then has no value until it runs again. Workers in `running`
 * hold their last count up to `until` (the page's clock), so live lines reach the right edge.
 */
export function chartSeries(samples: readonly SessionSample[], running: ReadonlySet<string>, until?: number): ChartSeries {
  const idSet = new Set<string>();
  for (const sample of samples) for (const id of Object.keys(sample.sessions)) idSet.add(id);
  const ids = [...idSet].sort(byId);
  const xs: number[] = [];
  const ys: Array<Array<number | null>> = ids.map(() => []);
  let previous: Record<string, number> = {};
  for (const sample of samples) {
    const t = Date.parse(sample.at);
    if (xs.length > 0 && t <= xs[xs.length - 1]!) continue;
    xs.push(t);
    ids.forEach((id, i) => {
      const v = sample.sessions[id];
      ys[i]!.push(v !== undefined ? v : id in previous ? 0 : null);
    });
    previous = sample.sessions;
  }
  if (until !== undefined && xs.length > 0 && until > xs[xs.length - 1]!) {
    xs.push(until);
    ids.forEach((id, i) => {
      const v = previous[id];
      // Still running: holds its count. Gone since the last sample: drops to 0 now.
      ys[i]!.push(v === undefined ? null : running.has(id) ? v : 0);
    });
  }
  return { ids, xs, ys };
}

/** A moment worth a vertical line on the chart: a worker became ready, was detached, … */
export interface ChartMarker {
  t: number;
  worker: string;
  what: 'ready' | 'detached' | 'reattached' | 'failed' | 'stopped';
}

const MARKED: Record<string, ChartMarker['what']> = {
  'worker.started': 'ready',
  'worker.detached': 'detached',
  'worker.reattached': 'reattached',
  'worker.failed': 'failed',
};

/** The markers among `events` from `since` on, oldest first. */
export function chartMarkers(events: readonly HandoverEvent[], since: number): ChartMarker[] {
  const markers: ChartMarker[] = [];
  for (const event of events) {
    const what = MARKED[event.type];
    if (what === undefined || event.worker === null) continue;
    const t = Date.parse(event.at);
    if (t >= since) markers.push({ t, worker: event.worker, what });
  }
  return markers.sort((a, b) => a.t - b.t);
}

/** Each worker's count at the newest x (null: none there). */
export function latestValues(series: ChartSeries): Map<string, number | null> {
  const out = new Map<string, number | null>();
  const last = series.xs.length - 1;
  series.ids.forEach((id, i) => {
    let v: number | null = null;
    for (let k = last; k >= 0; k--) {
      const y = series.ys[i]![k];
      if (y !== null && y !== undefined) {
        v = y;
        break;
      }
    }
    out.set(id, v);
  });
  return out;
}

/** A worker's moments as the supervisor keeps them (workers.markers, or a WorkerInfo). */
export interface WorkerMoments {
  worker?: string;
  id?: string;
  readyAt: string | null;
  detachedAt: string | null;
}

/**
 * Markers from workers' own timestamps (kept across supervisor restarts) merged with those
 * from the event log (which also knows reattaches and failed starts); one per worker and kind
 * within a second.
 */
export function mergeMarkers(moments: readonly WorkerMoments[], fromEvents: readonly ChartMarker[], since: number): ChartMarker[] {
  const out: ChartMarker[] = [...fromEvents];
  const near = (m: ChartMarker) => out.some((o) => o.worker === m.worker && o.what === m.what && Math.abs(o.t - m.t) < 1000);
  for (const moment of moments) {
    const worker = moment.worker ?? moment.id;
    if (worker === undefined) continue;
    for (const [what, at] of [
      ['ready', moment.readyAt],
      ['detached', moment.detachedAt],
    ] as const) {
      if (at === null) continue;
      const marker: ChartMarker = { t: Date.parse(at), worker, what };
      if (marker.t >= since && !near(marker)) out.push(marker);
    }
  }
  return out.sort((a, b) => a.t - b.t);
}
