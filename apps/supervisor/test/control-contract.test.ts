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
import { writeFile } from 'node:fs/promises';
import { Client, TestSupervisor, demoPool, waitFor } from './harness';

type Started = AsyncResource<{
  control: SupervisorControl;
  /** A new visitor logs in: one more session on the worker new sessions go to. */
  visit(): Promise<void>;
  /** The next start is of revision v2, whose process exits at once. */
  breakNextStart(): Promise<void>;
  /** The configuration file now names this revision (same command): resolves once the pool shows it. */
  editRevision(revision: string): Promise<void>;
  /** The configuration file does not parse (mid-edit) / is fixed again. */
  breakConfigFile(): Promise<void>;
  fixConfigFile(): Promise<void>;
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
      expect(Object.keys(result).sort()).toEqual(['allDetached', 'allStarted', 'detached', 'started']);
      expect(result.allDetached.map((w) => w.id)).toEqual(['web@0']);
      expect(result.allStarted.map((w) => w.id)).toEqual(['web@1']);
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

    it('a rollback by reattach with a newer revision in the file: the pool shows drift, the plan and the sync start it and detach the rolled-back worker', async () => {
      await using started = await start();
      const { control } = started;
      await started.visit();
      await started.editRevision('v2');
      expect(control.listPools()[0]).toMatchObject({
        revision: 'v2',
        runningRevisions: ['v1'],
        drift: { configuredRevision: 'v2', runningRevisions: ['v1'], changes: ['revision v1 → v2 (web@0 runs v1)'] },
        configError: null,
        deployFailure: null,
      });
      await control.detachAndSync('web@0', ACTOR);
      expect(control.listPools()[0]).toMatchObject({ runningRevisions: ['v2'], drift: null });
      await started.visit(); // on web@1, so that it drains instead of stopping at once
      await control.reattach('web@0', ACTOR);
      const drift = { configuredRevision: 'v2', runningRevisions: ['v1'], changes: ['revision v1 → v2 (web@0 runs v1)'] };
      expect(control.listPools()[0]).toMatchObject({ revision: 'v2', status: 'ok', runningRevisions: ['v1'], drift });

      const before = lastId(control);
      expect(await control.planSync(undefined)).toEqual({
        configError: null,
        notes: [],
        pools: [{ pool: 'web', revision: 'v2', start: 1, detach: ['web@0'], changes: drift.changes, busy: null, liftsCrashLoop: false, upToDate: false }],
      });
      expect(since(control, before)).toEqual([]);
      expect(control.listWorkers().map((w) => [w.id, w.state])).toEqual([
        ['web@0', 'started'],
        ['web@1', 'detached'],
      ]);

      const result = await control.sync('web', ACTOR);
      expect(result.pools.map((p) => [p.pool, p.started.map((w) => [w.id, w.revision, w.state]), p.detached?.map((w) => [w.id, w.state]), p.error])).toEqual([
        ['web', [['web@2', 'v2', 'started']], [['web@0', 'detached']], null],
      ]);
      const synced = since(control, before).filter((e) => e.type === 'pool.synced');
      expect(synced.map((e) => e.data)).toEqual([{ started: ['web@2'], detached: ['web@0'], error: null }]);
      expect(control.listPools()[0]).toMatchObject({ runningRevisions: ['v2'], drift: null });
      expect((await control.planSync('web')).pools[0]).toMatchObject({ start: 0, detach: [], changes: [], upToDate: true });
    }, 60_000);

    it('a configuration file that does not parse: shown on the pools, the plan says so, a sync refuses and changes nothing; fixed, all is well again', async () => {
      await using started = await start();
      const { control } = started;
      await started.breakConfigFile();
      const before = lastId(control);
      const plan = await control.planSync(undefined);
      expect(plan).toEqual({ configError: expect.any(String), notes: [], pools: [] });
      expect(control.listPools()[0]!.configError).toBe(plan.configError);
      // The last good configuration stays.
      expect(control.listPools()[0]).toMatchObject({ revision: 'v1', drift: null });
      await expectControlError(() => control.sync(undefined, ACTOR), 'PRECONDITION_FAILED', /^The configuration was not applied and nothing changed: /);
      expect(brief(since(control, before))).toEqual([
        ['action', null],
        ['config.rejected', null],
      ]);
      expect(control.listWorkers().map((w) => [w.id, w.state])).toEqual([['web@0', 'started']]);
      await started.fixConfigFile();
      expect((await control.planSync(undefined)).configError).toBeNull();
      expect(control.listPools()[0]!.configError).toBeNull();
    }, 60_000);

    it('a failed deploy shows on the pool until the next worker is ready', async () => {
      await using started = await start();
      const { control } = started;
      await started.visit();
      await started.breakNextStart();
      await controlError(() => control.detachAndSync('web@0', ACTOR));
      expect(control.listPools()[0]).toMatchObject({
        status: 'ok',
        deployFailure: { worker: 'web@1', revision: 'v2', reason: expect.stringMatching(/^web@1 did not start: it exited during start \(/), at: expect.stringMatching(ISO) },
      });
      await started.editRevision('v3');
      await control.sync('web', ACTOR);
      expect(control.listPools()[0]).toMatchObject({ deployFailure: null, runningRevisions: ['v3'] });
    }, 60_000);

    it('workers.drain lists what a detached worker holds (ids truncated) with its deadline and ETA; stopNow ends it, counted lost with the actor', async () => {
      await using started = await start();
      const { control } = started;
      await started.visit();
      await started.visit();
      await control.detachAndSync('web@0', ACTOR);
      const info = control.drainInfo('web@0', 1);
      expect(info).toMatchObject({ worker: 'web@0', state: 'detached', sessions: 2, inFlight: 0, webSockets: 0, maxSeconds: 86_400, truncated: true });
      expect(info.remaining).toHaveLength(1);
      expect(info.remaining[0]).toEqual({ id: expect.stringMatching(/^.{6}…$/), lastSeenAt: expect.stringMatching(ISO), expiresAt: expect.stringMatching(ISO), open: 0 });
      // The idle timeout (30 min by default) after it was last seen; the latest of them is the ETA, before the deadline.
      expect(Date.parse(info.remaining[0]!.expiresAt) - Date.parse(info.remaining[0]!.lastSeenAt)).toBe(1800_000);
      expect(info.deadline).toBe(control.listWorkers()[0]!.drainDeadline);
      expect(info).toMatchObject({ eta: info.remaining[0]!.expiresAt, etaBasis: 'sessions' });
      expect(control.drainInfo('web@0', 10)).toMatchObject({ truncated: false, remaining: [expect.anything(), expect.anything()] });
      expect(control.drainInfo('web@1', 10)).toMatchObject({ state: 'started', deadline: null, eta: null, etaBasis: 'unknown', remaining: [] });

      const before = lastId(control);
      await expectControlError(
        () => control.stopNow('web@1', ACTOR),
        'PRECONDITION_FAILED',
        'cannot stop web@1 now: it is started. It takes new sessions: detach it first (`handover detach web@1 --sync` starts a successor).',
      );
      expect(since(control, before)).toEqual([]);
      const stopped = await control.stopNow('web@0', ACTOR);
      expectWorkerShape({ ...stopped, pid: 0 });
      expect(stopped).toMatchObject({ id: 'web@0', state: 'stopped', sessions: 0 });
      const events = since(control, before);
      expect(brief(events)).toEqual([
        ['action', 'web@0'],
        ['sessions.lost', 'web@0'],
        ['worker.stopping', 'web@0'],
        ['worker.stopped', 'web@0'],
      ]);
      expect(events[0]).toMatchObject({ actor: ACTOR, message: `${ACTOR}: stop web@0 now` });
      expect(events[1]).toMatchObject({
        actor: ACTOR,
        pool: 'web',
        message: `${ACTOR} stopped web@0 before its drain ended, with 2 sessions, 0 requests and 0 WebSockets left; 2 sessions were lost`,
        data: { count: 2, inFlight: 0, webSockets: 0, reason: 'stopped-now' },
      });
      expect(control.listPools()[0]).toMatchObject({ sessionsLost: 2 });
      await expectControlError(() => control.stopNow('web@0', ACTOR), 'PRECONDITION_FAILED', 'cannot stop web@0 now: it is stopped. It is not running.');
    }, 60_000);

    it('filters events by worker, pool, type (exact or prefix) and actor', async () => {
      await using started = await start();
      const { control } = started;
      await started.visit();
      await control.detachAndSync('web@0', ACTOR);
      const all = control.listEvents({ limit: 1000 });
      const cases: Array<[Parameters<SupervisorControl['listEvents']>[0]['filter'], (e: HandoverEvent) => boolean]> = [
        [{ worker: 'web@1' }, (e) => e.worker === 'web@1'],
        [{ pool: 'web' }, (e) => e.pool === 'web'],
        [{ type: 'worker.' }, (e) => e.type.startsWith('worker.')],
        [{ type: 'worker.*' }, (e) => e.type.startsWith('worker.')],
        [{ type: 'worker.detached' }, (e) => e.type === 'worker.detached'],
        [{ actor: ACTOR, type: 'action' }, (e) => e.actor === ACTOR && e.type === 'action'],
        [{ worker: 'web@0', type: 'worker.' }, (e) => e.worker === 'web@0' && e.type.startsWith('worker.')],
      ];
      for (const [filter, match] of cases) {
        const expected = all.filter(match);
        expect(expected.length).toBeGreaterThan(0);
        expect(control.listEvents({ limit: 1000, filter })).toEqual(expected);
        expect(control.listEvents({ limit: 1, filter })).toEqual(expected.slice(-1));
        expect(control.listEvents({ afterId: expected[0]!.id, limit: 1000, filter })).toEqual(expected.slice(1));
      }
    }, 60_000);
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
  const editRevision = async (revision: string) => {
    fake.pools.get('web')!.revision = revision;
  };
  const breakConfigFile = async () => {
    fake.configError = 'handover.config.json: Unexpected end of JSON input at line 1, column 10';
  };
  const fixConfigFile = async () => {
    fake.configError = null;
  };
  return asyncResource({ control: fake, visit, breakNextStart, editRevision, breakConfigFile, fixConfigFile }, () => undefined);
});

supervisorControlContract('Supervisor (real, demo app)', async () => {
  const harness = await TestSupervisor.launch(demoPool('v1'));
  const visit = async () => {
    const res = await new Client(harness.proxyUrl).post('/api/login');
    expect(res.status).toBe(200);
  };
  // Read again by the next detach-and-sync or sync.
  const breakNextStart = () => harness.writeConfig(demoPool('v2', { command: 'node -e "process.exit(3)"' }));
  // The supervisor notices an edited file by itself (a watch, and a re-read every few seconds).
  const editRevision = async (revision: string) => {
    await harness.writeConfig(demoPool(revision));
    await waitFor(() => harness.supervisor.listPools()[0]!.revision === revision, 20_000, `the pool to show ${revision}`);
  };
  const breakConfigFile = async () => {
    await writeFile(harness.configPath, '{ "pools": [');
    await waitFor(() => harness.supervisor.listPools()[0]!.configError, 20_000, 'the pool to show the configuration error');
  };
  const fixConfigFile = async () => {
    await harness.writeConfig(demoPool('v1'));
    await waitFor(() => harness.supervisor.listPools()[0]!.configError === null, 20_000, 'the configuration error to clear');
  };
  return asyncResource({ control: harness.supervisor, visit, breakNextStart, editRevision, breakConfigFile, fixConfigFile }, () => harness.close());
});
