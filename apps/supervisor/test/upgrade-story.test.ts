import { describe, expect, it } from 'vitest';
import { Client, TestSupervisor, demoPool, waitFor } from './harness';


describe('the upgrade story, with the demo app', () => {
  it('moves new sessions to the new revision while old sessions finish on the old worker', async () => {
    await using harness = await TestSupervisor.launch(demoPool('v1'));
    const { supervisor } = harness;
    expect(harness.worker('web@0')).toMatchObject({ state: 'started', revision: 'v1', sessions: 0 });

    // Session A on web@0, with state only web@0 holds.
    const alice = new Client(harness.proxyUrl);
    expect((await alice.post('/api/login')).json).toMatchObject({ worker: 'web@0', revision: 'v1' });
    expect((await alice.post('/api/count')).json.session.counter).toBe(1);
    expect((await alice.post('/api/count')).json.session.counter).toBe(2);
    expect(harness.worker('web@0').sessions).toBe(1);

    // The operator points the config at a new release and presses "Detach and sync".
    await harness.writeConfig(demoPool('v2'));
    const result = await supervisor.detachAndSync('web@0', 'alice-operator');
    expect(result.started).toMatchObject({ id: 'web@1', state: 'started', revision: 'v2' });
    expect(result.detached).toMatchObject({ id: 'web@0', state: 'detached', sessions: 1 });

    // A new session goes to web@1 ...
    const bob = new Client(harness.proxyUrl);
    expect((await bob.post('/api/login')).json).toMatchObject({ worker: 'web@1', revision: 'v2' });
    // ... and A still reaches web@0 with its state intact.
    const stillOld = await alice.post('/api/count');
    expect(stillOld.json).toMatchObject({ worker: 'web@0', revision: 'v1' });
    expect(stillOld.json.session.counter).toBe(3);
    expect(harness.worker('web@0')).toMatchObject({ state: 'detached', sessions: 1 });
    expect(harness.worker('web@1')).toMatchObject({ state: 'started', sessions: 1 });

    // Visitors with no session, or a cookie nobody knows, go to the new worker; never a 502.
    expect((await new Client(harness.proxyUrl).get('/api/state')).json.worker).toBe('web@1');
    const stranger = new Client(harness.proxyUrl);
    stranger.cookies.set('demo.sid', 'not-a-session-anyone-knows');
    const strangerAnswer = await stranger.get('/api/state');
    expect(strangerAnswer.status).toBe(200);
    expect(strangerAnswer.json.worker).toBe('web@1');

    // A logs off: web@0 has nothing left, so it stops by itself.
    await alice.post('/api/logout');
    expect(alice.cookies.has('demo.sid')).toBe(false);
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');
    expect(harness.worker('web@0')).toMatchObject({ state: 'stopped', sessions: 0 });

    // A logs on again and lands on the new revision; the counts follow.
    expect((await alice.post('/api/login')).json).toMatchObject({ worker: 'web@1', revision: 'v2' });
    expect(harness.worker('web@1').sessions).toBe(2);

    // The audit trail names the operator.
    expect(harness.events.some((e) => e.type === 'action' && e.actor === 'alice-operator')).toBe(true);
    // In this order. The switch is one step: web@1 turns `started` and, in the same tick, web@0 is
    // detached (its event recorded first, naming web@1 as the new target); then web@0 drains, stops.
    const lifecycle = ['worker.starting', 'worker.started', 'worker.detached', 'worker.drained', 'worker.stopped'];
    const seen = harness.events
      .filter((e) => (e.worker === 'web@0' || e.worker === 'web@1') && lifecycle.includes(e.type))
      .map((e) => `${e.type} ${e.worker}`);
    const detached = harness.events.find((e) => e.type === 'worker.detached' && e.worker === 'web@0')!;
    expect(detached.message).toMatch(/new sessions go to web@1/);
    expect(seen).toEqual([
      'worker.starting web@0',
      'worker.started web@0',
      'worker.starting web@1',
      'worker.detached web@0',
      'worker.started web@1',
      'worker.drained web@0',
      'worker.stopped web@0',
    ]);
  });

  it('sends an old cookie of a stopped worker to the newest worker instead of failing', async () => {
    await using harness = await TestSupervisor.launch(demoPool('v1'));
    const alice = new Client(harness.proxyUrl);
    await alice.post('/api/login');
    const oldCookie = alice.cookies.get('demo.sid')!;
    await harness.supervisor.detachAndSync('web@0', 'test');
    await alice.post('/api/logout');
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');

    const returning = new Client(harness.proxyUrl);
    returning.cookies.set('demo.sid', oldCookie);
    const answer = await returning.get('/api/state');
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ worker: 'web@1', session: null });
  });

  it('keeps the old worker attached when the successor fails to start, and says why', async () => {
    await using harness = await TestSupervisor.launch(demoPool('v1'));
    const alice = new Client(harness.proxyUrl);
    await alice.post('/api/login');

    await harness.writeConfig(demoPool('v2-broken', { env: { DEMO_FAIL_START: '1' } }));
    const failure = await harness.supervisor.detachAndSync('web@0', 'test').catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect((failure as Error).message).toMatch(/web@1 \(revision v2-broken\) failed to start, so web@0 stays attached/);
    expect((failure as Error).message).toMatch(/exited during start/);

    expect(harness.worker('web@0')).toMatchObject({ state: 'started', sessions: 1 });
    expect(harness.worker('web@1').state).toBe('failed');
    expect(harness.worker('web@1').lastError).toBeTruthy();
    // Service goes on: old and new visitors reach web@0.
    expect((await alice.post('/api/count')).json.worker).toBe('web@0');
    expect((await new Client(harness.proxyUrl).post('/api/login')).json.worker).toBe('web@0');
    await harness.waitForEvent((e) => e.type === 'worker.failed' && e.worker === 'web@1');
  });

  it('reattaches a detached worker (rollback): it takes new sessions and the newer one drains', async () => {
    await using harness = await TestSupervisor.launch(demoPool('v1'));
    const alice = new Client(harness.proxyUrl);
    await alice.post('/api/login');
    await harness.writeConfig(demoPool('v2'));
    await harness.supervisor.detachAndSync('web@0', 'test');
    const bob = new Client(harness.proxyUrl);
    expect((await bob.post('/api/login')).json.worker).toBe('web@1');

    const back = await harness.supervisor.reattach('web@0', 'rollback-operator');
    expect(back).toMatchObject({ id: 'web@0', state: 'started' });
    expect(harness.worker('web@1')).toMatchObject({ state: 'detached', sessions: 1 });
    expect((await new Client(harness.proxyUrl).post('/api/login')).json.worker).toBe('web@0');
    expect((await bob.post('/api/count')).json.worker).toBe('web@1');

    // Reattaching twice, or detaching the only attached worker, is refused with a reason.
    await expect(harness.supervisor.reattach('web@0', 'x')).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    await expect(harness.supervisor.detach('web@0', 'x')).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringMatching(/only worker taking new sessions/),
    });
    await expect(harness.supervisor.detach('web@9', 'x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses a second detach-and-sync while one is starting its successor', async () => {
    await using harness = await TestSupervisor.launch(demoPool('v1'));
    await harness.writeConfig(demoPool('v2', { env: { DEMO_START_DELAY_MS: '300' } }));
    const first = harness.supervisor.detachAndSync('web@0', 'one');
    const second = harness.supervisor.detachAndSync('web@0', 'two').catch((e: unknown) => e);
    expect(await second).toMatchObject({ code: 'CONFLICT' });
    expect((await first).started.id).toBe('web@1');
    expect(harness.supervisor.listWorkers().filter((w) => w.state === 'started')).toHaveLength(1);
  });

  it('rejects a sync with a broken config file and changes nothing', async () => {
    await using harness = await TestSupervisor.launch(demoPool('v1'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(harness.configPath, '{ "pools": [ { "name": "web", "basePort": "abc" } ] }');
    const failure = await harness.supervisor.detachAndSync('web@0', 'test').catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect((failure as Error).message).toMatch(/basePort/);
    expect(harness.supervisor.listWorkers().map((w) => `${w.id}:${w.state}`)).toEqual(['web@0:started']);
    await waitFor(() => harness.events.find((e) => e.type === 'config.rejected'));
  });
});
