/**
 * One contract for `SupervisorControl`, run against the in-memory fake that the control API and
 * CLI tests use (`@handover/control-api/testing`) and against the real `Supervisor` (a real demo
 * worker behind it): the same calls must give the same observable answers — shapes, states,
 * error codes and messages, event order — or the fake's tests prove things about a supervisor
 * that does not exist. Both start as `handover start` leaves a one-instance pool: web@0 started.
 *
 * Sessions are not part of `SupervisorControl`: `visit()` makes one on the pool's target (the real
 * one through its proxy; the fake counts it), so that a detached worker keeps draining instead
 * of stopping at once, as an idle one does.
 */
import { describe, expect, it } from 'vitest';
import { ControlError, type ControlErrorCode, type SupervisorControl } from '@handover/control-api';
import { FakeSupervisor } from '@handover/control-api/testing';
import type { HandoverEvent, PoolInfo, WorkerInfo } from '@handover/process-table';
import { type AsyncResource, asyncResource } from '../../../test-support/resources';
import { Client, TestSupervisor, demoPool } from './harness';

type Started = AsyncResource<{
  control: SupervisorControl;
  /** A new visitor logs in: one more session on the worker new sessions go to. */
  visit(): Promise<void>;
  /** The next start is of revision v2, whose process exits at once. */
  breakNextStart(): Promise<void>;
}>;

const ACTOR = 'contract';

const WORKER_KEYS = [
  'appSessions',
  'appSessionsAt',
  'appSessionsError',
  'attached',
  'detachedAt',
  'drainDeadline',
  'exitCode',
  'exitSignal',
  'generation',
  'health',
  'id',
  'inFlight',
  'lastError',
  'memoryRss',
  'pid',
  'pool',
  'port',
  'readyAt',
  'revision',
  'sessions',
  'startedAt',
  'state',
  'stoppedAt',
  'webSockets',
];

const POOL_KEYS = [
  'attached',
  'command',
  'configError',
  'deployFailure',
  'drift',
  'instances',
  'lastError',
  'name',
  'nextRestartAt',
  'restarts',
  'revision',
  'runningRevisions',
  'sessionCookie',
  'sessionProbe',
  'sessionsLost',
  'status',
];

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Every field there, with the type it has over the wire. */
function expectWorkerShape(worker: WorkerInfo): void {
  expect(Object.keys(worker).sort()).toEqual(WORKER_KEYS);
  expect(worker).toMatchObject({
    id: `${worker.pool}@${worker.generation}`,
    pid: expect.any(Number),
    port: expect.any(Number),
    revision: expect.any(String),
    sessions: expect.any(Number),
    inFlight: expect.any(Number),
    webSockets: expect.any(Number),
    startedAt: expect.stringMatching(ISO),
  });
  expect(['ok', 'unhealthy', 'unknown']).toContain(worker.health);
  expect(worker.memoryRss === null || typeof worker.memoryRss === 'number').toBe(true);
}

function expectPoolShape(pool: PoolInfo): void {
  expect(Object.keys(pool).sort()).toEqual(POOL_KEYS);
  expect(pool).toMatchObject({ revision: expect.any(String), command: expect.any(String), sessionCookie: expect.any(String) });
}

/** The ControlError a call fails with (a sync throw or a rejection). */
async function controlError(call: () => unknown): Promise<ControlError> {
  try {
    await call();
  } catch (error) {
    expect(error).toBeInstanceOf(ControlError);
    return error as ControlError;
  }
  throw new Error('expected a ControlError');
}

async function expectControlError(call: () => unknown, code: ControlErrorCode, message: string | RegExp): Promise<void> {
  const error = await controlError(call);
  expect({ code: error.code, message: error.message }).toEqual({ code, message: typeof message === 'string' ? message : expect.stringMatching(message) });
}

const lastId = (control: SupervisorControl): number => control.listEvents({ limit: 1 }).at(-1)?.id ?? 0;
const since = (control: SupervisorControl, afterId: number): HandoverEvent[] => control.listEvents({ afterId, limit: 1000 });
const brief = (events: HandoverEvent[]) => events.map((e) => [e.type, e.worker]);

function supervisorControlContract(name: string, start: () => Promise<Started>): void {
  describe(`SupervisorControl contract: ${name}`, () => {
    it('after start: one pool with one instance, web@0 started and attached, every field there', async () => {
      await using started = await start();
      const { control } = started;
      await started.visit();
      const workers = control.listWorkers();
      expect(workers.map((w) => [w.id, w.pool, w.generation, w.state, w.attached])).toEqual([['web@0', 'web', 0, 'started', true]]);
      expectWorkerShape(workers[0]!);
      expect(workers[0]).toMatchObject({
        sessions: 1,
        inFlight: 0,
        webSockets: 0,
        readyAt: expect.stringMatching(ISO),
        detachedAt: null,
        stoppedAt: null,
        exitCode: null,
        exitSignal: null,
        lastError: null,
        drainDeadline: null,
        // No session probe configured.
        appSessions: null,
        appSessionsAt: null,
        appSessionsError: null,
      });
      const pools = control.listPools();
      expect(pools).toHaveLength(1);
      expectPoolShape(pools[0]!);
      expect(pools[0]).toMatchObject({
        name: 'web',
        instances: 1,
        attached: 1,
        status: 'ok',
        restarts: 0,
        nextRestartAt: null,
        lastError: null,
        sessionsLost: 0,
        sessionProbe: null,
        revision: workers[0]!.revision,
        runningRevisions: [workers[0]!.revision],
        drift: null,
        configError: null,
        deployFailure: null,
      });
    });

    it('refuses to detach the only started worker (PRECONDITION_FAILED), and changes nothing', async () => {
      await using started = await start();
      const { control } = started;
      const before = lastId(control);
      await expectControlError(() => control.detach('web@0', ACTOR), 'PRECONDITION_FAILED', /^web@0 is the only worker taking new sessions in pool web; /);
      expect(control.listWorkers().map((w) => [w.id, w.state, w.attached])).toEqual([['web@0', 'started', true]]);
      expect(since(control, before)).toEqual([]);
    });

    it('answers NOT_FOUND for a worker or pool that does not exist', async () => {
      await using started = await start();
      const { control } = started;
      const before = lastId(control);
      for (const id of ['web@9', 'api@0']) {
        const missing = `no worker ${id}; running workers: web@0`;
        await expectControlError(() => control.detach(id, ACTOR), 'NOT_FOUND', missing);
        await expectControlError(() => control.detachAndSync(id, ACTOR), 'NOT_FOUND', missing);
        await expectControlError(() => control.reattach(id, ACTOR), 'NOT_FOUND', missing);
        await expectControlError(() => control.logs(id, 10), 'NOT_FOUND', missing);
      }
      await expectControlError(() => control.sync('api', ACTOR), 'NOT_FOUND', 'no pool api; pools: web');
      expect(since(control, before)).toEqual([]);
    });

    it('refuses to reattach a started worker (PRECONDITION_FAILED)', async () => {
      await using started = await start();
      const { control } = started;
      const before = lastId(control);
      await expectControlError(() => control.reattach('web@0', ACTOR), 'PRECONDITION_FAILED', 'cannot reattach web@0: it is started. It is attached already.');
      expect(since(control, before)).toEqual([]);
    });

    it('detach-and-sync: the old worker detached in the tick its successor is ready; then the rules of a detached worker; reattach rolls back', async () => {
      await using started = await start();
      const { control } = started;
      await started.visit();
      const before = lastId(control);
      const result = await control.detachAndSync('web@0', ACTOR);
      expect(Object.keys(result).sort()).toEqual(['detached', 'started']);
      expectWorkerShape(result.detached);
      expectWorkerShape(result.started);
      expect(result.detached).toMatchObject({ id: 'web@0', state: 'detached', attached: false, sessions: 1, detachedAt: expect.stringMatching(ISO) });
      expect(result.started).toMatchObject({ id: 'web@1', generation: 1, state: 'started', attached: true, sessions: 0, revision: control.listPools()[0]!.revision });
      const deadline = result.detached.drainDeadline;
      expect(deadline === null || Date.parse(deadline!) > Date.parse(result.detached.detachedAt!)).toBe(true);
      expect(control.listWorkers().map((w) => [w.id, w.state, w.attached])).toEqual([
        ['web@0', 'detached', false],
        ['web@1', 'started', true],
      ]);
      expect(control.listPools()[0]).toMatchObject({ instances: 1, attached: 1 });
      // What the operator did first; the successor's start; web@0 detached before web@1 is
      // announced ready (the same tick). The real one also records the configuration it re-read.
      const events = since(control, before);
      expect(events[0]).toMatchObject({ type: 'action', actor: ACTOR, pool: 'web', worker: 'web@0' });
      expect(brief(events.filter((e) => e.type.startsWith('worker.')))).toEqual([
        ['worker.starting', 'web@1'],
        ['worker.detached', 'web@0'],
        ['worker.started', 'web@1'],
      ]);

      // A detached worker is neither detached again nor synced away; a started one is not reattached.
      await expectControlError(
        () => control.detach('web@0', ACTOR),
        'PRECONDITION_FAILED',
        'cannot detach web@0: it is detached. It is already detached (draining); reattach it to roll back.',
      );
      await expectControlError(
        () => control.detachAndSync('web@0', ACTOR),
        'PRECONDITION_FAILED',
        'cannot detach and sync web@0: it is detached. It is already detached (draining); reattach it to roll back.',
      );
      await expectControlError(() => control.reattach('web@1', ACTOR), 'PRECONDITION_FAILED', 'cannot reattach web@1: it is started. It is attached already.');

      // Rolling back: web@0 takes new sessions again and the newer web@1 (with a visitor of its
      // own, so that it drains) steps aside.
      await started.visit();
      expect(control.listWorkers().map((w) => [w.id, w.sessions])).toEqual([
        ['web@0', 1],
        ['web@1', 1],
      ]);
      const rollback = lastId(control);
      const reattached = await control.reattach('web@0', ACTOR);
      expectWorkerShape(reattached);
      expect(reattached).toMatchObject({ id: 'web@0', state: 'started', attached: true, detachedAt: null, drainDeadline: null });
      expect(control.listWorkers().map((w) => [w.id, w.state, w.attached])).toEqual([
        ['web@0', 'started', true],
        ['web@1', 'detached', false],
      ]);
      expect(control.listPools()[0]).toMatchObject({ attached: 1 });
      expect(brief(since(control, rollback))).toEqual([
        ['action', 'web@0'],
        ['worker.reattached', 'web@0'],
        ['worker.detached', 'web@1'],
      ]);
    }, 60_000);

    it('detach-and-sync whose successor fails: PRECONDITION_FAILED saying why, the old worker stays attached, the successor failed', async () => {
      await using started = await start();
      const { control } = started;
      await started.visit();
      await started.breakNextStart();
      const before = lastId(control);
      await expectControlError(
        () => control.detachAndSync('web@0', ACTOR),
        'PRECONDITION_FAILED',
        /^web@1 \(revision v2\) failed to start, so web@0 stays attached and keeps serving\. web@1 did not start: it exited during start \(/,
      );
      const workers = control.listWorkers();
      expect(workers.map((w) => [w.id, w.state, w.attached, w.revision])).toEqual([
        ['web@0', 'started', true, 'v1'],
        ['web@1', 'failed', false, 'v2'],
      ]);
      expect(workers[1]!.lastError).toMatch(/^web@1 did not start: it exited during start \(/);
      const events = since(control, before);
      expect(events[0]).toMatchObject({ type: 'action', actor: ACTOR, worker: 'web@0' });
      expect(brief(events.filter((e) => e.type.startsWith('worker.')))).toEqual([
        ['worker.starting', 'web@1'],
        ['worker.failed', 'web@1'],
      ]);
      expect(events.at(-1)!.message).toMatch(/^web@1 did not start: it exited during start \(/);
      expect(control.listPools()[0]).toMatchObject({ attached: 1, revision: 'v2' });
    }, 60_000);

    it('sync with the pool complete: one entry per pool, nothing started, no error; recorded per pool', async () => {
      await using started = await start();
      const { control } = started;
      for (const pool of [undefined, 'web']) {
        const before = lastId(control);
        expect(await control.sync(pool, ACTOR)).toEqual({ pools: [{ pool: 'web', started: [], detached: [], error: null }] });
        const events = since(control, before);
        expect(events[0]).toMatchObject({ type: 'action', actor: ACTOR, pool: pool ?? null });
        expect(events.filter((e) => e.type === 'pool.synced')).toEqual([
          expect.objectContaining({ actor: ACTOR, pool: 'web', data: { started: [], detached: [], error: null } }),
        ]);
        expect(events.at(-1)!.type).toBe('pool.synced');
      }
      expect(control.listWorkers().map((w) => w.id)).toEqual(['web@0']);
    });

    it('lists events oldest first: the newest `limit`, or those after `afterId`', async () => {
      await using started = await start();
      const { control } = started;
      await control.sync(undefined, ACTOR);
      await control.sync('web', ACTOR);
      const all = control.listEvents({ limit: 1000 });
      expect(all.length).toBeGreaterThanOrEqual(4);
      // Ids grow by one per event.
      expect(all.map((e) => e.id)).toEqual(all.map((_, i) => all[0]!.id + i));
      for (const event of all) {
        expect(Object.keys(event).sort()).toEqual(['actor', 'at', 'data', 'id', 'message', 'pool', 'type', 'worker']);
        expect(event.at).toMatch(ISO);
      }
      expect(all.map((e) => Date.parse(e.at))).toEqual(all.map((e) => Date.parse(e.at)).sort((a, b) => a - b));
      expect(control.listEvents({ limit: 3 })).toEqual(all.slice(-3));
      expect(control.listEvents({ afterId: all[0]!.id, limit: 1000 })).toEqual(all.slice(1));
      expect(control.listEvents({ afterId: all[0]!.id, limit: 2 })).toEqual(all.slice(1, 3));
      expect(control.listEvents({ afterId: all.at(-1)!.id, limit: 1000 })).toEqual([]);
    });

    it('pushes each new event to a listener once, as listed, until it unsubscribes', async () => {
      await using started = await start();
      const { control } = started;
      const before = lastId(control);
      const seen: HandoverEvent[] = [];
      const unsubscribe = control.onEvent((event) => seen.push(event));
      await control.sync(undefined, ACTOR);
      expect(seen.length).toBeGreaterThanOrEqual(2);
      expect(seen).toEqual(since(control, before));
      unsubscribe();
      const after = seen.length;
      await control.sync('web', ACTOR);
      expect(since(control, before).length).toBeGreaterThan(after);
      expect(seen).toHaveLength(after);
    });
  });
}

supervisorControlContract('FakeSupervisor (in memory)', async () => {
  const fake = FakeSupervisor.justStarted();
  const visit = async () => {
    const target = fake.listWorkers().find((w) => w.attached)!;
    fake.workers.set(target.id, { ...target, sessions: target.sessions + 1 });
  };
  const breakNextStart = async () => {
    fake.pools.set('web', { ...fake.pools.get('web')!, revision: 'v2' });
    fake.failNextStart = 'it exited during start (exit code 3)';
  };
  return asyncResource({ control: fake, visit, breakNextStart }, () => undefined);
});

supervisorControlContract('Supervisor (real, demo app)', async () => {
  const harness = await TestSupervisor.launch(demoPool('v1'));
  const visit = async () => {
    const res = await new Client(harness.proxyUrl).post('/api/login');
    expect(res.status).toBe(200);
  };
  // Read again by the next detach-and-sync or sync.
  const breakNextStart = () => harness.writeConfig(demoPool('v2', { command: 'node -e "process.exit(3)"' }));
  return asyncResource({ control: harness.supervisor, visit, breakNextStart }, () => harness.close());
});
