import { join } from 'node:path';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { Client, FIXTURES, TestSupervisor, demoPool, isProcessAlive, waitFor } from './harness';


function openSocket(url: string, cookie: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { cookie } });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

function nextMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve) => socket.once('message', (data) => resolve(String(data))));
}

describe('worker lifecycle', () => {
  it('keeps WebSocket affinity during a drain; logging off ends the last of it', async () => {
    await using harness = await TestSupervisor.launch(demoPool('v1'));
    const alice = new Client(harness.proxyUrl);
    await alice.post('/api/login');
    const cookie = `demo.sid=${alice.cookies.get('demo.sid')}`;
    const socket = await openSocket(`ws://127.0.0.1:${harness.proxyPort}/ws`, cookie);
    socket.send('hello');
    expect(await nextMessage(socket)).toBe('web@0: hello');

    await harness.supervisor.detachAndSync('web@0', 'test');
    // The open socket and a new one of the same session both stay on web@0.
    socket.send('during the drain');
    expect(await nextMessage(socket)).toBe('web@0: during the drain');
    const second = await openSocket(`ws://127.0.0.1:${harness.proxyPort}/ws`, cookie);
    second.send('again');
    expect(await nextMessage(second)).toBe('web@0: again');
    await waitFor(() => harness.worker('web@0').webSockets === 2);
    expect(harness.worker('web@0')).toMatchObject({ state: 'detached', sessions: 1 });

    // Logging off ends the session, and the demo closes that session's sockets with it.
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await alice.post('/api/logout');
    await closed;
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');
    expect(harness.worker('web@0')).toMatchObject({ sessions: 0, webSockets: 0 });
  });

  it('keeps a detached worker alive while a WebSocket is open, with no session at all', async () => {
    await using harness = await TestSupervisor.launch({
      command: `node ${JSON.stringify(join(FIXTURES, 'ws-app.mjs'))}`,
      sessionCookie: 'JSESSIONID',
    });
    const socket = await openSocket(`ws://127.0.0.1:${harness.proxyPort}/`, '');
    await harness.supervisor.detachAndSync('web@0', 'test');
    expect(harness.worker('web@0')).toMatchObject({ state: 'detached', sessions: 0, webSockets: 1 });
    // New connections go to web@1, the open one stays on web@0.
    const fresh = await openSocket(`ws://127.0.0.1:${harness.proxyPort}/`, '');
    fresh.send('new');
    expect(await nextMessage(fresh)).toBe('web@1: new');
    socket.send('old');
    expect(await nextMessage(socket)).toBe('web@0: old');
    expect(harness.worker('web@0').state).toBe('detached');

    socket.close();
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');
    fresh.close();
  });

  it('samples session counts and worker memory for the console', async () => {
    await using harness = await TestSupervisor.launch(demoPool('v1'));
    await new Client(harness.proxyUrl).post('/api/login');
    const sample = await waitFor(() => harness.supervisor.sessionHistory().find((s) => s.sessions['web@0'] === 1), 10_000);
    expect(Date.parse(sample.at)).toBeGreaterThan(0);
    const memory = await waitFor(() => harness.worker('web@0').memoryRss, 10_000);
    // A Node.js process holds at least a few megabytes and far less than the machine.
    expect(memory).toBeGreaterThan(5 * 1024 * 1024);
    expect(memory).toBeLessThan(4 * 1024 * 1024 * 1024);
  });

  it('replaces an attached worker that crashes and counts its sessions as lost', async () => {
    await using harness = await TestSupervisor.launch(
      demoPool('v1', { restart: { minUptimeSeconds: 0, maxRestarts: 3, backoffInitialMs: 50, backoffMaxMs: 200 } }),
    );
    const alice = new Client(harness.proxyUrl);
    await alice.post('/api/login');
    const pid = harness.worker('web@0').pid!;
    process.kill(-pid, 'SIGKILL');

    await harness.waitForEvent((e) => e.type === 'worker.crashed' && e.worker === 'web@0');
    await harness.waitForEvent((e) => e.type === 'worker.started' && e.worker === 'web@1');
    expect(harness.worker('web@0')).toMatchObject({ state: 'crashed', sessions: 0 });
    expect(harness.supervisor.listPools()[0]).toMatchObject({ status: 'ok', sessionsLost: 1 });
    expect(harness.events.some((e) => e.type === 'sessions.lost' && e.data?.count === 1)).toBe(true);
    // The lost session's cookie lands on the replacement, which knows nothing of it.
    const after = await alice.get('/api/state');
    expect(after.status).toBe(200);
    expect(after.json).toMatchObject({ worker: 'web@1', session: null });
  });

  it('stops restarting a crash-looping pool, shows it, and a sync starts it again', async () => {
    const failing = {
      command: `node ${JSON.stringify(join(FIXTURES, 'fail-app.mjs'))}`,
      sessionCookie: 'JSESSIONID',
      revision: 'broken',
      restart: { minUptimeSeconds: 5, maxRestarts: 2, backoffInitialMs: 20, backoffMaxMs: 40 },
    };
    await using harness = await TestSupervisor.launch(failing);
    await harness.waitForEvent((e) => e.type === 'pool.errored', 30_000);
    const pool = harness.supervisor.listPools()[0]!;
    expect(pool.status).toBe('errored');
    expect(pool.lastError).toMatch(/handover sync web/);
    const failures = harness.events.filter((e) => e.type === 'worker.failed');
    expect(failures).toHaveLength(3); // the first start and two restarts
    expect(harness.worker('web@2').lastError).toMatch(/cannot open database/);
    // Nothing can serve: the proxy says so with a 503, not a crash or a hang.
    expect((await new Client(harness.proxyUrl).get('/')).status).toBe(503);

    await harness.writeConfig(demoPool('v1-fixed'));
    const result = await harness.supervisor.sync('web', 'operator');
    expect(result.pools[0]).toMatchObject({ pool: 'web', error: null, started: [{ revision: 'v1-fixed' }] });
    expect(harness.supervisor.listPools()[0]).toMatchObject({ status: 'ok', restarts: 0 });
    expect((await new Client(harness.proxyUrl).get('/api/state')).json.revision).toBe('v1-fixed');
  });

  it('kills a draining worker that ignores SIGTERM after the grace period', async () => {
    await using harness = await TestSupervisor.launch({
      command: `node ${JSON.stringify(join(FIXTURES, 'ignore-sigterm-app.mjs'))}`,
      sessionCookie: 'JSESSIONID',
      stop: { graceSeconds: 1 },
    });
    const pid = harness.worker('web@0').pid!;
    await harness.supervisor.detachAndSync('web@0', 'test');
    await harness.waitForEvent((e) => e.type === 'worker.killed' && e.worker === 'web@0');
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');
    expect(isProcessAlive(pid)).toBe(false);
  });

  it('ends a drain at the maximum drain time and reports the sessions it cut', async () => {
    await using harness = await TestSupervisor.launch(demoPool('v1', { drain: { maxSeconds: 1 } }));
    await new Client(harness.proxyUrl).post('/api/login');
    await new Client(harness.proxyUrl).post('/api/login');
    await harness.supervisor.detachAndSync('web@0', 'test');
    const cut = await harness.waitForEvent((e) => e.type === 'sessions.lost' && e.worker === 'web@0');
    expect(cut.data).toMatchObject({ count: 2, reason: 'drain-timeout' });
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');
    expect(harness.supervisor.listPools()[0]!.sessionsLost).toBe(2);
  });
});

describe('an application that only has a session cookie (not the demo)', () => {
  it('is upgraded the same way, by watching its Set-Cookie headers', async () => {
    await using harness = await TestSupervisor.launch({
      command: `node ${JSON.stringify(join(FIXTURES, 'cookie-app.mjs'))}`,
      sessionCookie: 'JSESSIONID',
      sessionPathParameter: 'jsessionid',
      revision: 'r1',
    });
    const alice = new Client(harness.proxyUrl);
    const first = await alice.get('/');
    expect(first.json).toMatchObject({ worker: 'web@0', hits: 1 });
    const sessionId = first.json.sessionId as string;
    expect(harness.worker('web@0').sessions).toBe(1);

    await harness.supervisor.detachAndSync('web@0', 'test');
    expect((await alice.get('/')).json).toMatchObject({ worker: 'web@0', hits: 2 });
    // Servlet-style URL rewriting reaches the same worker without any cookie.
    const urlOnly = new Client(harness.proxyUrl);
    expect((await urlOnly.get(`/;jsessionid=${sessionId}`)).json).toMatchObject({ worker: 'web@0', hits: 3 });
    expect((await new Client(harness.proxyUrl).get('/')).json.worker).toBe('web@1');

    await alice.get('/logout');
    expect(alice.cookies.has('JSESSIONID')).toBe(false);
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');
    expect((await alice.get('/')).json.worker).toBe('web@1');
  });
});
