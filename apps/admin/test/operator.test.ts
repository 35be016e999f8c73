import { describe, expect, it } from 'vitest';
import { fakeWorker } from '@handover/control-api/testing';
import type { HandoverEvent, PoolInfo, WorkerInfo } from '@handover/process-table';
import { chartMarkers, chartSeries, latestValues, mergeMarkers } from '../src/lib/chart';
import { filterChoices, filterEvents } from '../src/lib/events';
import { OUTCOME_GRACE_MS, type Outcome, failedWorkerOf, outcomeVisibility, splitMessage } from '../src/lib/outcomes';
import { driftOf, poolAttention } from '../src/lib/pool-health';
import { attachedView, detachPlan, groupWorkers, listOf, nextWorkerId, reattachPlan, successorInProgress } from '../src/lib/workers';

/** The #10 "operator" items that are logic, not layout: each failed against the console before. */

const pool = (patch: Partial<PoolInfo> = {}): PoolInfo =>
  ({
    name: 'web',
    revision: 'v2',
    command: 'node server.js',
    sessionCookie: 'sid',
    instances: 1,
    attached: 1,
    status: 'ok',
    restarts: 0,
    nextRestartAt: null,
    lastError: null,
    sessionsLost: 0,
    sessionProbe: null,
    ...patch,
  }) as PoolInfo;

let nextEventId = 1;
const event = (type: HandoverEvent['type'], patch: Partial<HandoverEvent> = {}): HandoverEvent => ({
  id: nextEventId++,
  at: new Date(1_000_000 + nextEventId * 1000).toISOString(),
  type,
  actor: 'supervisor',
  pool: 'web',
  worker: null,
  message: type,
  data: null,
  ...patch,
});

describe('item 1: a row message lasts as long as the state it describes', () => {
  const outcome = (states: Outcome['states'], at = 0, seen = false): Outcome => ({ kind: 'success', text: 'x', states, at, seen });

  it('"web@0 is draining" shows while web@0 is detached and goes when it stops', () => {
    const draining = outcome(['detached'], 0, true);
    expect(outcomeVisibility(draining, fakeWorker('web@0', { state: 'detached' }), 500)).toBe('show');
    expect(outcomeVisibility(draining, fakeWorker('web@0', { state: 'stopped' }), 500)).toBe('drop');
    expect(outcomeVisibility(draining, fakeWorker('web@0', { state: 'stopping' }), 500)).toBe('drop');
  });

  it('"web@1 stays attached and keeps serving" goes once web@1 is detached', () => {
    const stays = outcome(['started'], 0, true);
    expect(outcomeVisibility(stays, fakeWorker('web@1', { state: 'started' }), 60_000)).toBe('show');
    expect(outcomeVisibility(stays, fakeWorker('web@1', { state: 'detached', attached: false }), 60_000)).toBe('drop');
  });

  it('waits a moment for the snapshot that shows the new state, then gives up', () => {
    const draining = outcome(['detached'], 1000);
    // The answer came before the live snapshot: web@0 still reads started.
    expect(outcomeVisibility(draining, fakeWorker('web@0'), 1200)).toBe('wait');
    expect(outcomeVisibility(draining, fakeWorker('web@0'), 1000 + OUTCOME_GRACE_MS)).toBe('drop');
    // A worker with no sessions stops at once: never seen detached, the message never shows.
    expect(outcomeVisibility(draining, fakeWorker('web@0', { state: 'stopped' }), 1000 + OUTCOME_GRACE_MS)).toBe('drop');
    // Once seen in its state, leaving it drops it at once.
    expect(outcomeVisibility({ ...draining, seen: true }, fakeWorker('web@0', { state: 'stopped' }), 1200)).toBe('drop');
  });
});

describe('item 2: a failed start says one line; the output stays in "Why … failed"', () => {
  const message =
    'web@3 (revision v3) failed to start, so web@2 stays attached and keeps serving. web@3 did not start: it exited with code 1 before answering its health check. Its last output:\n' +
    Array.from({ length: 24 }, (_, i) => `    at frame${i} (file:///app/server.mjs:${i}:1)`).join('\n');

  it('splits the summary from the output', () => {
    const { summary, detail } = splitMessage(message);
    expect(summary).toBe(
      'web@3 (revision v3) failed to start, so web@2 stays attached and keeps serving. web@3 did not start: it exited with code 1 before answering its health check.',
    );
    expect(summary).not.toContain('\n');
    expect(detail?.split('\n')).toHaveLength(24);
    expect(failedWorkerOf(message)).toBe('web@3');
  });

  it('leaves one-line messages alone', () => {
    expect(splitMessage('web@0 is busy: another operation is running on pool web')).toEqual({
      summary: 'web@0 is busy: another operation is running on pool web',
      detail: null,
    });
    expect(failedWorkerOf('web@0 is busy')).toBeNull();
  });
});

describe('item 3: while the successor starts', () => {
  const starting = [fakeWorker('web@0'), fakeWorker('web@1', { state: 'starting', readyAt: null })];

  it('names the worker really starting, not the one after it', () => {
    // Pressed with web@0 alone: predicted web@1. Once web@1 shows up, "the next id" is web@2.
    expect(nextWorkerId('web', starting)).toBe('web@2');
    expect(successorInProgress('web', starting, 0, 'web@1')).toBe('web@1');
    expect(successorInProgress('web', [fakeWorker('web@0')], 0, 'web@1')).toBe('web@1');
  });

  it('counts ready workers as attached and names the starting one apart', () => {
    const view = attachedView(pool({ attached: 2 }), starting);
    expect(view.text).toBe('1 / 1 wanted · web@1 starting');
    expect(view.short).toBe(false);
    expect(attachedView(pool({ attached: 0 }), [fakeWorker('web@0', { state: 'stopped', attached: false })]).short).toBe(true);
  });
});

describe('item 4: drift', () => {
  it('after a rollback the pool serves v1 while the file says v2', () => {
    const workers = [fakeWorker('web@0', { revision: 'v1' }), fakeWorker('web@1', { revision: 'v2', state: 'detached', attached: false })];
    expect(driftOf(pool({ revision: 'v2' }), workers)).toEqual({ configured: 'v2', running: ['v1'], changes: ['revision v1 → v2'] });
    expect(driftOf(pool({ revision: 'v1' }), workers)).toBeNull();
  });

  it("takes the supervisor's word when it sends it (the file is watched: an edit shows before a sync)", () => {
    const workers = [fakeWorker('web@0', { revision: 'v1' })];
    const drift = { configuredRevision: 'v3', runningRevisions: ['v1'], changes: ['revision v1 → v3 (web@0 runs v1)', 'env FOO added'] };
    const attention = poolAttention(pool({ revision: 'v3', drift, configError: 'bad JSON at line 3', deployFailure: null } as Partial<PoolInfo>), workers, [
      event('worker.failed', { worker: 'web@1' }),
    ]);
    expect(attention.drift).toEqual({ configured: 'v3', running: ['v1'], changes: drift.changes });
    expect(attention.configRejected).toEqual({ message: 'bad JSON at line 3', at: null });
    // The supervisor says the last start succeeded: an old failure in the log does not count.
    expect(attention.deployFailed).toBeNull();
    expect(poolAttention(pool({ revision: 'v1', drift: null } as Partial<PoolInfo>), workers, []).drift).toBeNull();
  });

  it('says "deploying" rather than drift while the successor starts (both count as attached meanwhile)', () => {
    const workers = [fakeWorker('web@0', { revision: 'v1' }), fakeWorker('web@1', { revision: 'v2', state: 'starting' })];
    const drift = { configuredRevision: 'v2', runningRevisions: ['v1', 'v2'], changes: ['instances 1, 2 attached'] };
    const attention = poolAttention(pool({ revision: 'v2', drift } as Partial<PoolInfo>), workers, []);
    expect(attention.starting).toEqual(['web@1']);
    expect(attention.drift).toBeNull();
  });
});

describe('item 5: the chart', () => {
  const at = (s: number) => new Date(s * 1000).toISOString();

  it("an ended worker's line drops to 0 where it stopped instead of stopping at its last count", () => {
    const series = chartSeries(
      [
        { at: at(0), sessions: { 'web@0': 3 } },
        { at: at(2), sessions: { 'web@0': 2, 'web@1': 0 } },
        { at: at(4), sessions: { 'web@1': 1 } },
        { at: at(6), sessions: { 'web@1': 2 } },
      ],
      new Set(['web@1']),
      8000,
    );
    expect(series.ids).toEqual(['web@0', 'web@1']);
    expect(series.xs).toEqual([0, 2000, 4000, 6000, 8000]);
    expect(series.ys[0]).toEqual([3, 2, 0, null, null]);
    expect(series.ys[1]).toEqual([null, 0, 1, 2, 2]);
    expect(latestValues(series)).toEqual(new Map([['web@0', 0], ['web@1', 2]]));
  });

  it('a worker that stopped after the last sample drops to 0 at the right edge', () => {
    const series = chartSeries([{ at: at(0), sessions: { 'web@0': 1, 'web@1': 1 } }], new Set(['web@1']), 3000);
    expect(series.ys).toEqual([
      [1, 0],
      [1, 1],
    ]);
  });

  it('marks ready, detach and reattach', () => {
    const events = [
      event('worker.started', { worker: 'web@1', at: at(10) }),
      event('worker.detached', { worker: 'web@0', at: at(11) }),
      event('worker.stopped', { worker: 'web@0', at: at(12) }),
      event('worker.started', { worker: 'web@0', at: at(1) }),
    ];
    expect(chartMarkers(events, 5000)).toEqual([
      { t: 10_000, worker: 'web@1', what: 'ready' },
      { t: 11_000, worker: 'web@0', what: 'detached' },
    ]);
  });
});

describe('item 5: markers survive a restart', () => {
  it('takes ready and detach times from the workers, once each', () => {
    const at = (s: number) => new Date(s * 1000).toISOString();
    const merged = mergeMarkers(
      [
        { worker: 'web@0', readyAt: at(1), detachedAt: at(20) },
        { id: 'web@1', readyAt: at(20), detachedAt: null },
      ],
      [{ t: 20_300, worker: 'web@0', what: 'detached' }],
      0,
    );
    expect(merged).toEqual([
      { t: 1000, worker: 'web@0', what: 'ready' },
      { t: 20_000, worker: 'web@1', what: 'ready' },
      { t: 20_300, worker: 'web@0', what: 'detached' },
    ]);
  });
});

describe('item 6: live workers first, ended ones folded', () => {
  it('groups the table', () => {
    const workers: WorkerInfo[] = [
      fakeWorker('web@0', { state: 'stopped', attached: false }),
      fakeWorker('web@1', { state: 'failed', attached: false }),
      fakeWorker('web@2', { state: 'stopped', attached: false }),
      fakeWorker('web@3', { state: 'detached', attached: false }),
      fakeWorker('web@4'),
      fakeWorker('web@5', { state: 'failed', attached: false, lastError: 'boom' }),
    ];
    const groups = groupWorkers(workers);
    expect(groups.live.map((w) => w.id)).toEqual(['web@4', 'web@3']);
    // The failed successor is the latest attempt: it stays in view with its "why".
    expect(groups.latest.map((w) => w.id)).toEqual(['web@5']);
    expect(groups.ended.map((w) => w.id)).toEqual(['web@2', 'web@1', 'web@0']);
  });
});

describe('item 8: what Reattach will do', () => {
  it('detaches the newer worker; the dialog can say it stops at once', () => {
    const old = fakeWorker('web@0', { state: 'detached', attached: false, revision: 'v1' });
    const newer = fakeWorker('web@1', { revision: 'v2', sessions: 0 });
    expect(reattachPlan(old, [old, newer], 1).map((w) => w.id)).toEqual(['web@1']);
    expect(reattachPlan(old, [old, newer], 2)).toEqual([]);
  });
});

describe('the Detach dialog names every worker it changes (pools of several instances)', () => {
  it('one instance: one successor, the named worker detached', () => {
    const web0 = fakeWorker('web@0', { revision: 'v1' });
    expect(detachPlan(web0, [web0], 1)).toEqual({ detached: ['web@0'], successors: ['web@1'] });
  });

  it('three instances: three successors from the next generation, every started worker detached (named one first)', () => {
    const workers = [
      fakeWorker('web@3', { revision: 'v1' }),
      fakeWorker('web@4', { revision: 'v1' }),
      fakeWorker('web@5', { revision: 'v1' }),
      fakeWorker('web@2', { state: 'detached', attached: false, revision: 'v0' }),
    ];
    expect(detachPlan(workers[1]!, workers, 3)).toEqual({ detached: ['web@4', 'web@5', 'web@3'], successors: ['web@6', 'web@7', 'web@8'] });
    expect(listOf(['web@6', 'web@7', 'web@8'])).toBe('web@6, web@7 and web@8');
    expect(listOf(['web@6'])).toBe('web@6');
  });
});

describe('item 9: event filters', () => {
  const events = [
    event('action', { actor: 'console:admin', worker: 'web@0' }),
    event('worker.detached', { worker: 'web@0' }),
    event('worker.started', { worker: 'web@1' }),
    event('config.reloaded', { pool: null }),
  ];

  it('filters by worker, type and actor together', () => {
    expect(filterEvents(events, { worker: 'web@0', type: '', actor: '' }).map((e) => e.type)).toEqual(['action', 'worker.detached']);
    expect(filterEvents(events, { worker: 'web@0', type: '', actor: 'supervisor' }).map((e) => e.type)).toEqual(['worker.detached']);
    expect(filterEvents(events, { worker: '', type: 'config.reloaded', actor: '' })).toHaveLength(1);
    expect(filterChoices(events)).toEqual({
      workers: ['web@0', 'web@1'],
      types: ['action', 'config.reloaded', 'worker.detached', 'worker.started'],
      actors: ['console:admin', 'supervisor'],
    });
  });
});

describe('item 10: the pool badge after a failed deploy or a refused configuration', () => {
  it('reads the newest start and the newest configuration read from the event log', () => {
    const newestFirst = (list: HandoverEvent[]) => [...list].reverse();
    const failed = [
      event('worker.started', { worker: 'web@2' }),
      event('config.reloaded', { pool: null }),
      event('worker.failed', { worker: 'web@3', message: 'web@3 did not start: exit 1' }),
    ];
    const attention = poolAttention(pool(), [fakeWorker('web@2')], newestFirst(failed));
    expect(attention.deployFailed?.worker).toBe('web@3');
    expect(attention.configRejected).toBeNull();

    const fixed = [...failed, event('config.rejected', { pool: null, message: 'configuration not applied: bad JSON' }), event('worker.started', { worker: 'web@4' })];
    const later = poolAttention(pool(), [fakeWorker('web@4')], newestFirst(fixed));
    expect(later.deployFailed).toBeNull();
    expect(later.configRejected?.message).toContain('bad JSON');
  });
});
