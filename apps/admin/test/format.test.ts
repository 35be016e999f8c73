import { describe, expect, it } from 'vitest';
import { niceTicks, seriesByWorker, stepPath } from '../src/lib/chart';
import { formatDuration, formatMegabytes, formatRelative } from '../src/lib/format';
import { nextWorkerId } from '../src/lib/workers';

describe('formatting', () => {
  it('formats durations, relative times and memory', () => {
    expect(formatDuration(3_400)).toBe('3s');
    expect(formatDuration(245_000)).toBe('4m 05s');
    expect(formatDuration(7_380_000)).toBe('2h 03m');
    expect(formatRelative(0, 2_000)).toBe('just now');
    expect(formatRelative(0, 12_000)).toBe('12 s ago');
    expect(formatRelative(0, 180_000)).toBe('3 min ago');
    expect(formatRelative(10_000, 0)).toBe('just now'); // clock skew between server and page
    expect(formatRelative(120_000, 0)).toBe('in 2 min');
    expect(formatMegabytes(47_185_920)).toBe('45.0 MB');
    expect(formatMegabytes(null)).toBe('–');
  });
});

describe('chart helpers', () => {
  it('splits series where a worker is missing and draws steps', () => {
    const at = (s: number) => new Date(s * 1000).toISOString();
    const series = seriesByWorker([
      { at: at(0), sessions: { 'web@0': 1 } },
      { at: at(2), sessions: { 'web@0': 2, 'web@1': 0 } },
      { at: at(4), sessions: { 'web@1': 1 } },
      { at: at(6), sessions: { 'web@0': 0, 'web@1': 1 } },
    ]);
    expect(series.get('web@0')!.map((run) => run.map((p) => p.v))).toEqual([[1, 2], [0]]);
    expect(series.get('web@1')!.map((run) => run.length)).toEqual([3]);
    const d = stepPath([{ t: 0, v: 1 }, { t: 10, v: 2 }], (t) => t, (v) => 10 - v, 20);
    expect(d).toBe('M0.0,9.0H10.0V8.0H20.0');
  });

  it('picks whole-number ticks', () => {
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(120)).toEqual([0, 50, 100, 150]);
  });

  it('names the next worker of a pool', () => {
    const w = (id: string, generation: number) => ({ id, pool: id.split('@')[0]!, generation }) as never;
    expect(nextWorkerId('web', [w('web@0', 0), w('web@3', 3), w('api@7', 7)])).toBe('web@4');
    expect(nextWorkerId('web', [])).toBe('web@0');
  });
});
