/**
 * "Log off and you move", with real Tomcat 10 (Debian's tomcat10-common, `catalina.sh run`, a
 * CATALINA_BASE per worker, stock sessions, a JSP app) as the workers, through `handover`'s proxy.
 * Handover's count is checked against the app's own (Tomcat's session manager over JMX) at every
 * step. With integrations/tomcat (its Valve, put in by install.sh, no change to the app) the
 * accounting is exact: a login's changeSessionId() and a logout's invalidate() are reported, so
 * the user moves and the old worker drains. Without it, what generic cookie accounting gets right
 * (the new id at login) and what it cannot know (a logout that leaves the cookie).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test-support/resources';
import { Client, FIXTURES, REPO_ROOT, TestSupervisor, waitFor } from './harness';

const FIXTURE = join(FIXTURES, 'tomcat');
const RUN_WORKER = join(FIXTURE, 'run-worker.sh');
const INTEGRATION = join(REPO_ROOT, 'integrations/tomcat');
const CATALINA_HOME = process.env.CATALINA_HOME ?? '/usr/share/tomcat10';

/**
 * A pool of Tomcat workers, each in a CATALINA_BASE of its own under `bases` (its own sessions,
 * as separate machines would have), made afresh by run-worker.sh when the worker starts; with the
 * integration, run-worker.sh runs integrations/tomcat/install.sh on it first.
 */
function tomcatPool(revision: string, bases: string, integration: boolean, { sideChannel = true, extra = {} as Record<string, unknown> } = {}) {
  // Without the side channel: as a supervisor before it had one (the worker reports by headers only).
  const unset = sideChannel ? '' : 'unset HANDOVER_REPORT_URL HANDOVER_REPORT_TOKEN; ';
  return {
    command: `${unset}exec ${JSON.stringify(RUN_WORKER)} ${JSON.stringify(bases)} ${integration ? 'integration' : 'plain'}`,
    sessionCookie: 'JSESSIONID',
    sessionPathParameter: 'jsessionid',
    // Tomcat's stock session-timeout (30 minutes).
    idleTimeoutSeconds: 1800,
    ...(integration ? { sessionReports: true } : {}),
    revision,
    // A JVM start plus the first JSP compile: 2–3 s alone, more on a busy machine.
    healthCheck: { path: '/healthz.jsp', timeoutSeconds: 90, intervalMs: 100 },
    stop: { graceSeconds: 10 },
    ...extra,
  };
}

/** The app's own count: activeSessions of Tomcat's manager for the webapp (JMX), asked on the worker directly. */
async function appCount(harness: TestSupervisor, worker: string): Promise<number> {
  const answer = await fetch(`http://127.0.0.1:${harness.worker(worker).port}/sessions.jsp`);
  return ((await answer.json()) as { sessions: number }).sessions;
}

async function counts(harness: TestSupervisor, ...workers: string[]) {
  return {
    handover: workers.map((w) => harness.worker(w).sessions),
    app: await Promise.all(workers.map((w) => appCount(harness, w))),
  };
}

const tomcatInstalled = existsSync(join(CATALINA_HOME, 'bin/catalina.sh')) && spawnSync('javac', ['-version']).status === 0;

/** A supervisor running Tomcat workers; fails at once (not after a health-check timeout) without Tomcat. */
function launch(pool: ReturnType<typeof tomcatPool>): Promise<TestSupervisor> {
  expect(tomcatInstalled, `Tomcat 10 in ${CATALINA_HOME} and javac`).toBe(true);
  return TestSupervisor.launch(pool);
}

describe('Tomcat 10 with stock sessions', { timeout: 180_000 }, () => {
  beforeAll(() => {
    // Built once here, so that two workers starting at once do not both build it in install.sh.
    if (tomcatInstalled) execFileSync(join(INTEGRATION, 'build.sh'), { stdio: 'ignore' });
  }, 120_000);

  it('Tomcat 10 and a JDK are installed (.ci/run installs tomcat10-common and default-jdk-headless)', () => {
    expect(existsSync(join(CATALINA_HOME, 'bin/catalina.sh'))).toBe(true);
    expect(spawnSync('javac', ['-version']).status).toBe(0);
  });

  it('install.sh puts the jar in lib/ and one valve line in server.xml, once, however often it runs; clear errors', async () => {
    await using dir = await tempDir('handover-tomcat-install-');
    const base = join(dir.path, 'base');
    await cp(join(FIXTURE, 'base'), base, { recursive: true });
    const install = (args: string[], env = process.env) =>
      spawnSync(join(INTEGRATION, 'install.sh'), args, { encoding: 'utf8', env });

    expect(install([base]).status).toBe(0);
    expect(install([base]).status).toBe(0);
    const serverXml = await readFile(join(base, 'conf/server.xml'), 'utf8');
    expect(serverXml.match(/<Valve className="org\.handover\.tomcat\.HandoverValve" \/>/g)).toHaveLength(1);
    // Inside the Engine, outside the comment that mentions it.
    expect(serverXml).toMatch(/<Valve className="org\.handover\.tomcat\.HandoverValve" \/>\s*<\/Engine>\s*<\/Service>/);
    expect(existsSync(join(base, 'lib/handover-tomcat.jar'))).toBe(true);

    const missing = install([join(dir.path, 'nowhere')]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/no such directory/);
    const usage = install([]);
    expect(usage.status).not.toBe(0);
    expect(usage.stderr).toMatch(/usage: .*install\.sh <CATALINA_BASE>/);

    // Not built yet and no javac: says what to install.
    const copy = join(dir.path, 'integration');
    await cp(join(INTEGRATION, 'src'), join(copy, 'src'), { recursive: true });
    await cp(join(INTEGRATION, 'install.sh'), join(copy, 'install.sh'));
    await cp(join(INTEGRATION, 'build.sh'), join(copy, 'build.sh'));
    const bin = join(dir.path, 'bin'); // the tools install.sh needs, but no javac
    await mkdir(bin);
    for (const tool of ['sh', 'awk', 'grep', 'find', 'cp', 'mv', 'mkdir', 'cat', 'head', 'cut', 'mktemp', 'rm', 'dirname']) {
      await symlink(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), join(bin, tool));
    }
    const noJdk = spawnSync(join(copy, 'install.sh'), [base], { encoding: 'utf8', env: { PATH: bin } });
    expect(noJdk.status).not.toBe(0);
    expect(noJdk.stderr).toMatch(/javac not found.*default-jdk-headless/);
  });

  it('with the integration: the count equals Tomcat’s at every step, a login’s new id and a logoff are reported, and the logoff moves the user', async () => {
    await using bases = await tempDir('handover-tomcat-');
    await using harness = await launch(tomcatPool('v1', bases.path, true));

    const alice = new Client(harness.proxyUrl);
    const first = await alice.get('/count.jsp');
    expect(first.json).toMatchObject({ worker: 'web@0', counter: 1, user: null });
    expect(first.headers.get('x-handover-session')).toBeNull(); // the proxy keeps the report to itself
    const anonymous = alice.cookies.get('JSESSIONID');
    expect(await counts(harness, 'web@0')).toEqual({ handover: [1], app: [1] });

    // Login: request.changeSessionId() (a new id, the same session). The old id is reported ended.
    expect((await alice.post('/login.jsp')).json).toMatchObject({ worker: 'web@0', counter: 1, user: 'someone' });
    expect(alice.cookies.get('JSESSIONID')).not.toBe(anonymous);
    expect((await alice.get('/count.jsp')).json).toMatchObject({ worker: 'web@0', counter: 2, user: 'someone' });
    expect(await counts(harness, 'web@0')).toEqual({ handover: [1], app: [1] });

    await harness.writeConfig(tomcatPool('v2', bases.path, true));
    await harness.supervisor.detachAndSync('web@0', 'operator');

    const bob = new Client(harness.proxyUrl);
    expect((await bob.post('/login.jsp')).json).toMatchObject({ worker: 'web@1', revision: 'v2', user: 'someone' });
    // Alice's session stays where its state is.
    expect((await alice.get('/count.jsp')).json).toMatchObject({ worker: 'web@0', revision: 'v1', counter: 3, user: 'someone' });
    expect(await counts(harness, 'web@0', 'web@1')).toEqual({ handover: [1, 1], app: [1, 1] });

    // The stock logout: session.invalidate(). Tomcat sends no Set-Cookie; her cookie stays.
    const sid = alice.cookies.get('JSESSIONID');
    expect((await alice.post('/logout.jsp')).json).toMatchObject({ worker: 'web@0', loggedOut: true });
    expect(alice.cookies.get('JSESSIONID')).toBe(sid);
    // web@0 has no session left, so it stops by itself.
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0', 30_000);
    expect(harness.worker('web@0')).toMatchObject({ state: 'stopped', sessions: 0 });

    // Her next request, with the same cookie, lands on the new revision: logged out, nothing there.
    expect((await alice.get('/state.jsp')).json).toMatchObject({ worker: 'web@1', revision: 'v2', user: null, counter: null });
    expect(alice.cookies.get('JSESSIONID')).toBe(sid);
    expect(await counts(harness, 'web@1')).toEqual({ handover: [1], app: [1] });
    // Her next session is made there.
    expect((await alice.get('/count.jsp')).json).toMatchObject({ worker: 'web@1', revision: 'v2', counter: 1 });
    expect(alice.cookies.get('JSESSIONID')).not.toBe(sid);
    expect(await counts(harness, 'web@1')).toEqual({ handover: [2], app: [2] });
  });

  it('a logout after a streamed response was committed goes by the side channel, and the old worker drains in seconds; a session’s own timeout is followed too', async () => {
    await using bases = await tempDir('handover-tomcat-');
    await using harness = await launch(tomcatPool('v1', bases.path, true));

    const alice = new Client(harness.proxyUrl);
    expect((await alice.post('/login.jsp')).json).toMatchObject({ worker: 'web@0', user: 'someone' });
    // Erin's session has a timeout of its own, 2 s (the pool's idle timeout is 30 minutes). The
    // report says ttl=2, so Handover forgets it when Tomcat does; Tomcat's expiry (in its
    // background thread, no request) is also posted to the side channel as ttl=0.
    const erin = new Client(harness.proxyUrl);
    expect((await erin.get('/count.jsp?maxInactive=2')).json).toMatchObject({ worker: 'web@0', counter: 1 });
    expect(await counts(harness, 'web@0')).toEqual({ handover: [2], app: [2] });
    await waitFor(async () => harness.worker('web@0').sessions === 1 && (await appCount(harness, 'web@0')) === 1, 30_000, 'the expiry reported');

    await harness.writeConfig(tomcatPool('v2', bases.path, true));
    await harness.supervisor.detachAndSync('web@0', 'operator');
    // The answer is flushed (the head is out), then session.invalidate(): only the side channel
    // can say so (without it this worker would not stop: the next test).
    expect((await alice.get('/stream.jsp')).json).toMatchObject({ worker: 'web@0', streamed: true, loggedOut: true });
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0', 30_000);
    expect(harness.worker('web@0')).toMatchObject({ state: 'stopped', sessions: 0 });
    expect((await alice.get('/state.jsp')).json).toMatchObject({ worker: 'web@1', revision: 'v2', user: null });
  });

  it('without a side channel, a logout after the head went out rides on the old worker’s next response through the proxy', async () => {
    await using bases = await tempDir('handover-tomcat-');
    const pool = (revision: string) => tomcatPool(revision, bases.path, true, { sideChannel: false });
    await using harness = await launch(pool('v1'));

    const alice = new Client(harness.proxyUrl);
    const erin = new Client(harness.proxyUrl);
    expect((await alice.post('/login.jsp')).json).toMatchObject({ worker: 'web@0' });
    expect((await erin.post('/login.jsp')).json).toMatchObject({ worker: 'web@0' });
    await harness.writeConfig(pool('v2'));
    await harness.supervisor.detachAndSync('web@0', 'operator');

    expect((await alice.get('/stream.jsp')).json).toMatchObject({ worker: 'web@0', loggedOut: true });
    // Nothing could tell Handover yet.
    expect(await counts(harness, 'web@0')).toEqual({ handover: [2], app: [1] });
    // Erin's next request to web@0 carries it.
    expect((await erin.get('/state.jsp')).json).toMatchObject({ worker: 'web@0', user: 'someone' });
    expect(await counts(harness, 'web@0')).toEqual({ handover: [1], app: [1] });
    // Alice's next request: her route cookie (which only a response to her could clear) still
    // names web@0 and is younger than the idle timeout, but the session it names was reported
    // ended after it was issued, so it revives nothing: she is on the new revision at once.
    expect(alice.cookies.get('handover_route')).toMatch(/^web@0\./);
    expect((await alice.get('/state.jsp')).json).toMatchObject({ worker: 'web@1', user: null });
    expect(await counts(harness, 'web@0')).toEqual({ handover: [1], app: [1] });

    expect((await erin.post('/logout.jsp')).json).toMatchObject({ worker: 'web@0', loggedOut: true });
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0', 30_000);
  });

  it('a ;jsessionid= URL without a cookie reaches the worker that holds the session (sessionPathParameter)', async () => {
    await using bases = await tempDir('handover-tomcat-');
    await using harness = await launch(tomcatPool('v1', bases.path, true));

    const dave = new Client(harness.proxyUrl);
    expect((await dave.post('/login.jsp')).json).toMatchObject({ worker: 'web@0', user: 'someone' });
    const sid = dave.cookies.get('JSESSIONID');
    expect(sid).toMatch(/^[0-9A-F]{32}$/);

    await harness.writeConfig(tomcatPool('v2', bases.path, true));
    await harness.supervisor.detachAndSync('web@0', 'operator');

    // A cookieless client (URL rewriting: encodeURL() puts the id in the path).
    const cookieless = new Client(harness.proxyUrl);
    const viaUrl = await cookieless.get(`/count.jsp;jsessionid=${sid}`);
    expect(viaUrl.json).toMatchObject({ worker: 'web@0', revision: 'v1', counter: 1, user: 'someone' });
    expect(cookieless.cookies.size).toBe(0); // Tomcat joined the session: no new one
    // Without the id, a new visitor goes to the new revision.
    expect((await cookieless.get('/state.jsp')).json).toMatchObject({ worker: 'web@1', user: null });
    expect(await counts(harness, 'web@0', 'web@1')).toEqual({ handover: [1, 0], app: [1, 0] });
  });

  it('without the integration: the login’s new id is learned from Set-Cookie, but a logout that leaves the cookie keeps the user on the old worker, which never drains', async () => {
    await using bases = await tempDir('handover-tomcat-');
    await using harness = await launch(tomcatPool('v1', bases.path, false));

    const carol = new Client(harness.proxyUrl);
    expect((await carol.get('/count.jsp')).json).toMatchObject({ worker: 'web@0', counter: 1 });
    expect((await carol.post('/login.jsp')).json).toMatchObject({ worker: 'web@0', user: 'someone' });
    // changeSessionId() sends a Set-Cookie with the new id: seen as a rotation, counts agree.
    expect(await counts(harness, 'web@0')).toEqual({ handover: [1], app: [1] });

    await harness.writeConfig(tomcatPool('v2', bases.path, false));
    await harness.supervisor.detachAndSync('web@0', 'operator');
    expect((await carol.get('/count.jsp')).json).toMatchObject({ worker: 'web@0', revision: 'v1', counter: 2 });

    // The stock logout: invalidate(), no Set-Cookie. Tomcat has no session left; Handover cannot know.
    const sid = carol.cookies.get('JSESSIONID');
    expect((await carol.post('/logout.jsp')).json).toMatchObject({ worker: 'web@0', loggedOut: true });
    expect(carol.cookies.get('JSESSIONID')).toBe(sid);
    expect(await counts(harness, 'web@0')).toEqual({ handover: [1], app: [0] });

    // So she stays on the old revision...
    expect((await carol.get('/state.jsp')).json).toMatchObject({ worker: 'web@0', revision: 'v1', user: null });
    // ...and her next session is made there too (a Set-Cookie replacing an id bound to web@0):
    // as long as she comes back within the idle timeout, she never moves, and web@0 never drains.
    expect((await carol.get('/count.jsp')).json).toMatchObject({ worker: 'web@0', revision: 'v1', counter: 1 });
    expect(carol.cookies.get('JSESSIONID')).not.toBe(sid);
    expect(await counts(harness, 'web@0')).toEqual({ handover: [1], app: [1] });
    expect(harness.worker('web@0')).toMatchObject({ state: 'detached', sessions: 1 });
  });

  it('without the integration but with a session probe (Tomcat’s own count over JMX): the detached worker drains once Tomcat says 0, and the user moves', async () => {
    await using bases = await tempDir('handover-tomcat-');
    const probe = { sessionProbe: { path: '/sessions.jsp', intervalSeconds: 0.2 } };
    const pool = (revision: string) => tomcatPool(revision, bases.path, false, { extra: probe });
    await using harness = await launch(pool('v1'));

    const carol = new Client(harness.proxyUrl);
    expect((await carol.post('/login.jsp')).json).toMatchObject({ worker: 'web@0', user: 'someone' });
    await harness.writeConfig(pool('v2'));
    await harness.supervisor.detachAndSync('web@0', 'operator');
    expect((await carol.get('/count.jsp')).json).toMatchObject({ worker: 'web@0', counter: 1 });

    const sid = carol.cookies.get('JSESSIONID');
    expect((await carol.post('/logout.jsp')).json).toMatchObject({ worker: 'web@0', loggedOut: true });
    expect(carol.cookies.get('JSESSIONID')).toBe(sid);
    // Cookie accounting still counts her; Tomcat says 0, so the probe ends the drain.
    await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0', 30_000);
    expect((await carol.get('/state.jsp')).json).toMatchObject({ worker: 'web@1', revision: 'v2', user: null });
  });
});
