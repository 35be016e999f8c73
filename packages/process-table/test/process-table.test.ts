import { describe, expect, it } from 'vitest';
import {
  CrashTracker,
  Lease,
  assertTransition,
  canTransition,
  isAlive,
  isAttached,
  isRoutable,
  newestStarted,
  parseWorkerId,
  workerId,
} from '../src/index';

describe('instance state machine', () => {
  it('allows the lifecycle of a worker that is upgraded away', () => {
    const path = ['starting', 'started', 'detached', 'stopping', 'stopped'] as const;
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
  });

  it('allows a rollback (reattach) but nothing out of a terminal state', () => {
    expect(canTransition('detached', 'started')).toBe(true);
    for (const to of ['starting', 'started', 'detached', 'stopping'] as const) {
      expect(canTransition('stopped', to)).toBe(false);
      expect(canTransition('crashed', to)).toBe(false);
      expect(canTransition('failed', to)).toBe(false);
    }
  });

  it('names the worker in an illegal change', () => {
    expect(() => assertTransition('web@3', 'stopped', 'started')).toThrow(/web@3: stopped → started/);
  });

  it('classifies states', () => {
    expect(isRoutable('detached')).toBe(true);
    expect(isRoutable('starting')).toBe(false);
    expect(isAttached('detached')).toBe(false);
    expect(isAttached('starting')).toBe(true);
    expect(isAlive('stopping')).toBe(true);
    expect(isAlive('crashed')).toBe(false);
  });
});

describe('worker ids', () => {
  it('round-trips', () => {
    expect(workerId('web', 12)).toBe('web@12');
    expect(parseWorkerId('web@12')).toEqual({ pool: 'web', generation: 12 });
  });
  it('rejects malformed ids', () => {
    for (const bad of ['web', '@1', 'web@', 'Web@1', 'web@-1', 'web@1x', 'a b@1']) {
      expect(parseWorkerId(bad)).toBeNull();
    }
  });
});

describe('crash loop policy', () => {
  const config = { minUptimeMs: 5000, maxRestarts: 3, backoffInitialMs: 500, backoffMaxMs: 1500 };

  it('backs off exponentially up to the cap, then gives up', () => {
    const tracker = new CrashTracker(config);
    expect(tracker.recordCrash(10)).toEqual({ action: 'restart', delayMs: 500, unstableRestarts: 1 });
    expect(tracker.recordCrash(10)).toEqual({ action: 'restart', delayMs: 1000, unstableRestarts: 2 });
    expect(tracker.recordCrash(10)).toEqual({ action: 'restart', delayMs: 1500, unstableRestarts: 3 });
    expect(tracker.recordCrash(10)).toEqual({ action: 'give-up', unstableRestarts: 3 });
  });

  it('forgets unstable restarts once a worker stayed up for min uptime', () => {
    const tracker = new CrashTracker(config);
    tracker.recordCrash(10);
    tracker.recordCrash(10);
    expect(tracker.recordCrash(60_000)).toEqual({ action: 'restart', delayMs: 500, unstableRestarts: 1 });
  });

  it('starts over after a reset (an operator sync)', () => {
    const tracker = new CrashTracker({ ...config, maxRestarts: 1 });
    tracker.recordCrash(0);
    expect(tracker.recordCrash(0).action).toBe('give-up');
    tracker.reset();
    expect(tracker.recordCrash(0).action).toBe('restart');
  });
});

describe('drain and routing target', () => {
  it('a lease is empty only with no sessions, requests or websockets, whichever went last', () => {
    const lease = new Lease();
    expect(lease.empty).toBe(true);
    const holds: Array<[() => void, () => void]> = [
      [() => lease.sessionsBound(2), () => lease.sessionsReleased(2)],
      [() => lease.requestStarted(), () => lease.requestFinished()],
      [() => lease.webSocketOpened(), () => lease.webSocketClosed()],
    ];
    for (const [take, give] of holds) {
      take();
      expect(lease.empty).toBe(false);
      give();
      expect(lease.empty).toBe(true);
    }
    lease.sessionsBound(1);
    lease.requestStarted();
    lease.webSocketOpened();
    expect([lease.sessions, lease.inFlight, lease.webSockets]).toEqual([1, 1, 1]);
  });

  it('targets the newest started worker, never a starting or detached one', () => {
    const workers = [
      { id: 'web@0', state: 'detached', generation: 0 },
      { id: 'web@1', state: 'started', generation: 1 },
      { id: 'web@2', state: 'starting', generation: 2 },
    ];
    expect(newestStarted(workers)?.id).toBe('web@1');
    expect(newestStarted(workers.filter((w) => w.state !== 'started'))).toBeUndefined();
  });
});
