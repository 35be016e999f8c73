/**
 * The side channel for session reports no response can carry (POST $HANDOVER_REPORT_URL with the
 * worker's own token): a session ended after a streamed response was committed still drains the
 * detached worker in seconds; and nobody but that worker can report for it.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client, FIXTURES, TestSupervisor } from './harness';

const APP = join(FIXTURES, 'late-report-app.mjs');
const pool = (revision: string) => ({ command: `node ${JSON.stringify(APP)}`, sessionCookie: 'app.sid', sessionReports: true, idleTimeoutSeconds: 3600, revision });

async function reportEnv(harness: TestSupervisor, worker: string): Promise<{ url: string; token: string }> {
  const answer = await fetch(`http://127.0.0.1:${harness.worker(worker).port}/report-env`);
  return (await answer.json()) as { url: string; token: string };
}

const post = (url: string, body: string, token?: string) =>
  fetch(url, { method: 'POST', headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, body });

describe('session reports by the side channel', () => {
  it('a session ended after its response was committed drains the detached worker in seconds, and the user moves', async () => {
    await using harness = await TestSupervisor.launch(pool('v1'));
    const alice = new Client(harness.proxyUrl);
    expect((await alice.post('/login')).json).toMatchObject({ worker: 'web@0' });
    expect(harness.worker('web@0').sessions).toBe(1);

    await harness.writeConfig(pool('v2'));
    await harness.supervisor.detachAndSync('web@0', 'operator');
    expect((await alice.get('/state')).json).toMatchObject({ worker: 'web@0', user: 'someone' });

    // The head (with the session still live) is out before the app ends the session.
    const logout = await alice.get('/stream-logout');
    expect(logout.text).toContain('reported 204');
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');
    expect((await alice.get('/state')).json).toMatchObject({ worker: 'web@1', revision: 'v2', user: null });
  });

  it('only the worker itself can report: no token, another worker’s token, a token for an ended worker and an oversized body are refused', async () => {
    await using harness = await TestSupervisor.launch(pool('v1'));
    const web0 = await reportEnv(harness, 'web@0');
    expect(web0.url).toBe(`${harness.running.control.url}session-reports/web%400`);
    expect(web0.token).not.toContain(harness.running.token.value);

    const alice = new Client(harness.proxyUrl);
    await alice.post('/login');
    const sid = alice.cookies.get('app.sid')!;
    expect((await post(web0.url, `${sid}; ttl=0`)).status).toBe(401);
    expect((await post(web0.url, `${sid}; ttl=0`, harness.running.token.value)).status).toBe(401);
    expect((await post(web0.url.replace('web%400', 'web%401'), `${sid}; ttl=0`, web0.token)).status).toBe(401);
    expect((await post(web0.url, 'x'.repeat(70_000), web0.token)).status).toBe(413);
    expect((await post(web0.url, 'bad id with spaces', web0.token)).status).toBe(400);
    expect(harness.worker('web@0').sessions).toBe(1);

    // A report for a worker that no longer serves sessions is refused, and changes nothing.
    await harness.writeConfig(pool('v2'));
    await harness.supervisor.detachAndSync('web@0', 'operator');
    expect((await post(web0.url, `${sid}; ttl=0`, web0.token)).status).toBe(204);
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0');
    expect((await post(web0.url, 'LATE; ttl=60', web0.token)).status).toBe(404);
    expect(harness.worker('web@1').sessions).toBe(0);
  });
});
