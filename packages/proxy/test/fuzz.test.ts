/**
 * Issue #9: the differential fuzzer (packages/proxy/fuzz) as part of the suite. A short run with
 * a fixed seed must find nothing, and every reproduction the fuzzer once found (saved in
 * fuzz/regressions/) must replay clean. `npm run fuzz` runs longer ones.
 */
import { describe, expect, it } from 'vitest';
import { fuzz, replayAll } from '../fuzz/harness';
import { loadRegressions } from '../fuzz/saved';

const SEED = 9;

describe('differential fuzzer', () => {
  it(`seed ${SEED}: 1000 streams through the proxy child process, no finding`, async () => {
    const report = await fuzz({ seed: SEED, streams: 1000, seconds: 20, concurrency: 16, minimize: 0, log: () => {} });
    const found = report.findings.map((f) => `${f.kind} ×${f.count} in ${f.stream} ${f.request ?? ''}: ${f.detail} [${f.why.join(', ')}]`);
    expect(found).toEqual([]);
    expect(report.deaths).toBe(0);
    // The time budget went on streams, not on waiting (a loaded machine may not do all 1000).
    expect(report.streams).toBeGreaterThanOrEqual(300);
    expect(report.answered).toBeGreaterThan(report.streams * 0.6);
    expect(report.refused).toBeGreaterThan(report.streams * 0.1);
  }, 60_000);

  const saved = loadRegressions();
  it(`${saved.length} saved reproductions replay clean`, async () => {
    expect(saved.length).toBeGreaterThan(0);
    const results = await replayAll(saved.map((s) => s.regression.streams));
    const failing = results.flatMap((findings, i) =>
      findings.map((f) => `${saved[i]?.file} (${saved[i]?.regression.title.slice(0, 80)}): ${f.kind} ${f.detail}`),
    );
    expect(failing).toEqual([]);
  }, 120_000);
});
