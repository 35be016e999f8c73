import { describe, expect, it } from 'vitest';
import { parseSoakArgs } from '../soak/cli-args';
import { cookieUpdate } from '../soak/http-client';
import { formatReport } from '../soak/report';
import { type SoakReport, problemsOf, prng } from '../soak/soak';
import { fmt, nearAny, percentile, splitByWindows, summarize, table } from '../soak/stats';

describe('percentile (nearest rank)', () => {
  it('picks the smallest value with at least p% at or below it', () => {
    const values = [15, 20, 35, 40, 50];
    expect(percentile(values, 30)).toBe(20);
    expect(percentile(values, 40)).toBe(20);
    expect(percentile(values, 50)).toBe(35);
    expect(percentile(values, 100)).toBe(50);
    expect(percentile(values, 0)).toBe(15);
  });
  it('does not need sorted input and does not reorder it', () => {
    const values = [5, 1, 4, 2, 3];
    expect(percentile(values, 50)).toBe(3);
    expect(values).toEqual([5, 1, 4, 2, 3]);
  });
  it('p99 of 1..1000 is 990; of one value is that value; of none is NaN', () => {
    expect(percentile(Array.from({ length: 1000 }, (_, i) => i + 1), 99)).toBe(990);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
  it('refuses a p outside 0..100', () => {
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('gives count, min, percentiles, max and mean', () => {
    expect(summarize([4, 1, 3, 2])).toEqual({ count: 4, min: 1, p50: 2, p90: 4, p99: 4, max: 4, mean: 2.5 });
  });
  it('is all NaN for no values', () => {
    const s = summarize([]);
    expect(s.count).toBe(0);
    expect(s.p50).toBeNaN();
    expect(s.mean).toBeNaN();
  });
});

describe('splitByWindows', () => {
  it('puts samples within ±window of any moment in near, the rest in rest', () => {
    const samples = [0, 400, 499, 500, 1500, 1501, 2600, 3000].map((at) => ({ at, value: at }));
    const { near, rest } = splitByWindows(samples, [3000, 1000], 500);
    expect(near).toEqual([500, 1500, 2600, 3000]);
    expect(rest).toEqual([0, 400, 499, 1501]);
  });
  it('with no moments everything is rest', () => {
    expect(splitByWindows([{ at: 1, value: 1 }], [], 500)).toEqual({ near: [], rest: [1] });
  });
  it('nearAny handles the edges', () => {
    expect(nearAny([10], 5, 5)).toBe(true);
    expect(nearAny([10], 15, 5)).toBe(true);
    expect(nearAny([10], 16, 5)).toBe(false);
    expect(nearAny([], 0, 5)).toBe(false);
  });
});

describe('formatting', () => {
  it('fmt shows – for NaN', () => {
    expect(fmt(1.234)).toBe('1.2');
    expect(fmt(Number.NaN)).toBe('–');
  });
  it('table aligns columns', () => {
    expect(table(['a', 'bb'], [['xyz', '1'], ['q', '22']])).toBe('a    bb\n---  --\nxyz   1\nq    22');
  });
});

describe('cookieUpdate', () => {
  it('reads a set, a clear and an unrelated cookie', () => {
    expect(cookieUpdate(['demo.sid=abc; Path=/; HttpOnly'], 'demo.sid')).toBe('abc');
    expect(cookieUpdate(['demo.sid=; Path=/; Max-Age=0'], 'demo.sid')).toBeNull();
    expect(cookieUpdate(['demo.sid=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT'], 'demo.sid')).toBeNull();
    expect(cookieUpdate(['other=1'], 'demo.sid')).toBeUndefined();
    expect(cookieUpdate([], 'demo.sid')).toBeUndefined();
  });
});

describe('prng', () => {
  it('is deterministic per seed and within [0, 1)', () => {
    const a = prng(42);
    const b = prng(42);
    const xs = Array.from({ length: 100 }, () => a());
    expect(xs).toEqual(Array.from({ length: 100 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(prng(43)()).not.toBe(xs[0]);
  });
});

describe('parseSoakArgs', () => {
  it('maps the flags to options', () => {
    const parsed = parseSoakArgs(['--users', '10', '--duration', '5', '--cycle-every', '1.5', '--ws-share', '0.2', '--think', '10-20', '--json']);
    expect(parsed.options).toEqual({ users: 10, durationS: 5, cycleEveryS: 1.5, wsShare: 0.2, thinkMs: [10, 20] });
    expect(parsed.json).toBe(true);
  });
  it('refuses bad values with the flag name', () => {
    expect(() => parseSoakArgs(['--users', '0'])).toThrow(/--users/);
    expect(() => parseSoakArgs(['--ws-share', '2'])).toThrow(/--ws-share/);
    expect(() => parseSoakArgs(['--think', '20-10'])).toThrow(/--think/);
    expect(() => parseSoakArgs(['--nope'])).toThrow();
  });
});

function cleanReport(): SoakReport {
  const summary = summarize([1, 2, 3]);
  return {
    ok: true,
    problems: [],
    options: { users: 1, durationS: 1, cycleEveryS: 1, wsShare: 0, thinkMs: [1, 2], sessionMeanS: 1, offlineMaxMs: 1, requestTimeoutMs: 1, drainTimeoutS: 1, switchWindowMs: 500, seed: 1 },
    loadMs: 1000,
    totalMs: 1000,
    requests: { sent: 10, answered: 10, failed: 0, failures: { reset: 0, timeout: 0, refused: 0, other: 0, status5xx: 0, unexpectedStatus: 0 }, samples: [], perSecond: 10 },
    sessions: { logins: 1, logouts: 1, wrongWorker: 0, stateLost: 0, newSessionOnDetached: 0, wrongRevision: 0, movedToNewer: 0, loginsPerWorker: { 'web@0': 1 }, leftOnSurvivor: 0, samples: [] },
    websockets: { opened: 0, openFailed: 0, messages: 0, echoed: 0, wrongWorker: 0, unexpectedClose: 0, samples: [] },
    cycles: { requested: 1, succeeded: 1, failed: 0, probeMismatch: 0, switchMs: summary, callMs: summary, list: [] },
    drains: { detached: 1, stopped: 1, drainMs: summary, lastLogoffToDrainedMs: summary, drainedToStoppedMs: summary, list: [] },
    end: { converged: true, convergeMs: 0, alive: { web: ['web@1'] } },
    latency: { windowMs: 500, all: summary, nearSwitch: summary, rest: summary },
    supervisorEvents: { crashed: 0, killed: 0, failedStarts: 0, sessionsLostEvents: 0, sessionsLost: 0 },
  };
}

describe('problemsOf', () => {
  it('finds nothing wrong in a clean report', () => {
    expect(problemsOf(cleanReport())).toEqual([]);
    expect(formatReport(cleanReport())).toContain('PASS');
  });
  it('names every broken expectation', () => {
    const report = cleanReport();
    report.requests.failed = 2;
    report.requests.failures.reset = 2;
    report.sessions.wrongWorker = 1;
    report.sessions.stateLost = 3;
    report.end.converged = false;
    report.drains.stopped = 0;
    report.drains.list = [{ worker: 'web@0', revision: 'v0', detachedAt: 1, stoppedAt: null, drainMs: null, lastLogoffToDrainedMs: null, drainedToStoppedMs: null }];
    report.websockets.messages = 2;
    report.websockets.echoed = 1;
    report.supervisorEvents.crashed = 1;
    const problems = problemsOf(report);
    expect(problems).toEqual([
      '2 request(s) failed (reset: 2)',
      '1 response(s) served by another worker than the session’s',
      '3 session state loss(es) (counter not previous+1, or session gone)',
      '1 WebSocket message(s) without an echo',
      '1 detached worker(s) never stopped: web@0',
      'workers did not converge to one per pool: {"web":["web@1"]}',
      '1 worker crash(es)',
    ]);
    report.problems = problems;
    report.ok = false;
    expect(formatReport(report)).toMatch(/FAIL:\n {2}- 2 request\(s\) failed/);
  });
});
