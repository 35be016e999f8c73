import { describe, expect, it } from 'vitest';
import { formatReport } from '../soak/report';
import { runSoak } from '../soak/soak';

/**
 * The short soak: a real supervisor, real demo workers, 50 users for 8 s with a detach-and-sync
 * every 2 s. The long version (npm run soak) is the number quoted in docs/BENCHMARKS.md.
 */
describe('zero-downtime soak (short)', () => {
  it('keeps every session on its worker through repeated detach-and-sync cycles', async () => {
    const report = await runSoak({ users: 50, durationS: 8, cycleEveryS: 2, wsShare: 0.1, sessionMeanS: 2, drainTimeoutS: 20, seed: 7 });
    // On failure the whole table says what went wrong.
    expect(report.problems, formatReport(report)).toEqual([]);
    expect(report.ok).toBe(true);

    expect(report.requests.sent).toBeGreaterThan(1000);
    expect(report.requests.failed).toBe(0);
    expect(report.requests.answered).toBe(report.requests.sent);
    expect(report.sessions.wrongWorker).toBe(0);
    expect(report.sessions.stateLost).toBe(0);
    expect(report.sessions.newSessionOnDetached).toBe(0);
    expect(report.sessions.movedToNewer).toBeGreaterThan(0);
    expect(report.websockets.opened).toBeGreaterThan(0);
    expect(report.websockets.echoed).toBe(report.websockets.messages);
    expect(report.websockets.wrongWorker + report.websockets.unexpectedClose).toBe(0);

    expect(report.cycles.succeeded).toBeGreaterThanOrEqual(3);
    expect(report.cycles.failed).toBe(0);
    expect(report.cycles.probeMismatch).toBe(0);
    expect(report.drains.stopped).toBe(report.drains.detached);
    expect(report.end.converged).toBe(true);
    expect(Object.values(report.end.alive).map((list) => list.length)).toEqual([1]);
    expect(report.supervisorEvents).toMatchObject({ crashed: 0, killed: 0, failedStarts: 0, sessionsLost: 0 });
  });
});
