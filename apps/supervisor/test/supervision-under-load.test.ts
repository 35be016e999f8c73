/**
 * Supervision under load (issue #9): the supervisor is killed with -9 again and again under the
 * keeper while users count and new visitors arrive, and users of the detached worker log off,
 * one of them right before each kill (its unbind may never reach the store: a would-be phantom).
 * Checked: the port never refuses a connection; every request gets its proper answer from its
 * session's worker, or, only when in flight at a kill, a cut connection that the client retries
 * successfully; no session is lost; the detached worker is not held by a phantom and stops by
 * itself once its last real user logs off. Real processes, loopback sockets, bounded load; every
 * wait is on an event or a poll with a deadline (the load loop is paced, not synchronised, by a
 * timer).
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { disposer } from '../../../test-support/resources';
import type { HandoverEvent } from '@handover/process-table';
import { Client } from './harness';
import { Installation, count, login, onNewConnection, report, running, sessionId } from './installation';
import { waitFor } from './wait';

const WINDOW_SECONDS = 3;
const WEB0_USERS = 12;
const WEB1_USERS = 4;
const KILLS = 4;
/** The pause between two requests of one loop: paces the load, synchronises nothing. */
const PACE_MS = 40;
/** Bounds on the load, far above what the test needs: iterations per loop and wall time. */
const MAX_ITERATIONS = 3_000;
const LOAD_DEADLINE_MS = 120_000;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_RETRIES = 3;
/** A cut must be of a request sent before the killed supervisor was seen gone, plus this. */
const CUT_SLACK_MS = 500;

type Kind = 'ok' | 'cut' | 'refused' | 'timeout' | 'status' | 'wrong-worker' | 'counter' | 'gave-up' | 'other';

interface Outcome {
  who: string;
  what: string;
  kind: Kind;
  startedAt: number;
  endedAt: number;
  /** Sent again after a cut connection. */
  retried?: boolean;
  detail?: string;
}

interface User {
  name: string;
  client: Client;
  worker: string;
  counter: number;
  /** Successful counts so far. */
  ok: number;
  leave: boolean;
  loop?: Promise<void>;
}

interface Kill {
  pid: number;
  sentAt: number;
  /** When the test saw the process gone. */
  goneAt: number;
  /** Logged-off sessions of web@0 whose rows were still in the store after the kill. */
  phantoms: string[];
}

const CUT_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

function errorCode(error: unknown): string {
  const e = error as { code?: string; cause?: { code?: string }; message?: string };
  return e.cause?.code ?? e.code ?? e.message ?? String(error);
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('no answer'), { code: 'TIMEOUT' })), REQUEST_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const pace = () => new Promise((resolve) => setTimeout(resolve, PACE_MS));

function cookieHeader(client: Client): string {
  return [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** Every request the load sent, and what came of it. */
class Load {
  readonly outcomes: Outcome[] = [];
  stopping = false;
  private readonly until = Date.now() + LOAD_DEADLINE_MS;

  get running(): boolean {
    return !this.stopping && Date.now() < this.until;
  }

  /**
   * Sends, and sends again after a cut connection (what a keep-alive client does), at most
   * MAX_RETRIES times. Every failed attempt is recorded; null when no answer came.
   */
  async send<T>(who: string, what: string, attempt: () => Promise<T>): Promise<{ value: T; cuts: number; startedAt: number } | null> {
    for (let cuts = 0; ; cuts++) {
      const startedAt = Date.now();
      try {
        return { value: await withTimeout(attempt()), cuts, startedAt };
      } catch (error) {
        const code = errorCode(error);
        const kind: Kind = code === 'ECONNREFUSED' ? 'refused' : code === 'TIMEOUT' ? 'timeout' : CUT_CODES.has(code) ? 'cut' : 'other';
        this.outcomes.push({ who, what, kind, startedAt, endedAt: Date.now(), detail: code });
        if (kind !== 'cut') return null;
        if (cuts === MAX_RETRIES) {
          this.outcomes.push({ who, what, kind: 'gave-up', startedAt, endedAt: Date.now(), detail: `${cuts + 1} cuts in a row` });
          return null;
        }
      }
    }
  }

  answered(who: string, what: string, kind: Kind, startedAt: number, cuts: number, detail?: string): void {
    this.outcomes.push({ who, what, kind, startedAt, endedAt: Date.now(), retried: cuts > 0, detail });
  }

  /** A logged-on user counting, on fetch's keep-alive connections, until told to leave. */
  async user(user: User): Promise<void> {
    for (let i = 0; i < MAX_ITERATIONS && this.running && !user.leave; i++) {
      const got = await this.send(user.name, 'count', () => user.client.post('/api/count'));
      if (got !== null) {
        const { status, json, text } = got.value;
        const worker = json?.worker;
        const counter = json?.session?.counter;
        // A cut request may have been counted before its answer was lost: one more per cut.
        if (worker !== user.worker) this.answered(user.name, 'count', 'wrong-worker', got.startedAt, got.cuts, `${status} from ${worker}: ${text.slice(0, 200)}`);
        else if (status !== 200) this.answered(user.name, 'count', 'status', got.startedAt, got.cuts, `${status}: ${text.slice(0, 200)}`);
        else if (!(counter > user.counter && counter <= user.counter + 1 + got.cuts)) {
          this.answered(user.name, 'count', 'counter', got.startedAt, got.cuts, `${counter} after ${user.counter} (${got.cuts} cuts)`);
        } else {
          // Counted twice: the cut attempt had reached the app, only its answer was lost.
          this.answered(user.name, 'count', 'ok', got.startedAt, got.cuts, counter > user.counter + 1 ? 'cut attempt counted too' : undefined);
          user.ok++;
        }
        if (typeof counter === 'number') user.counter = counter;
      }
      await pace();
    }
  }

  /**
   * New visitors: an anonymous look on a connection of its own (the port must accept it even
   * while no supervisor runs), and every third time a new user who logs on and counts once,
   * both on the attached worker.
   */
  async visitors(expected: string): Promise<void> {
    for (let i = 0; i < MAX_ITERATIONS && this.running; i++) {
      const got = await this.send(`visitor${i}`, 'state', () => onNewConnection(this.port, 'GET', '/api/state', {}));
      if (got !== null) {
        const body = safeJson(got.value.body);
        const kind: Kind = body?.worker !== expected ? 'wrong-worker' : got.value.status !== 200 || body.session !== null ? 'status' : 'ok';
        this.answered(`visitor${i}`, 'state', kind, got.startedAt, got.cuts, kind === 'ok' ? undefined : `${got.value.status} ${got.value.body.slice(0, 200)}`);
      }
      if (i % 3 === 0) {
        const who = `newcomer${i}`;
        const client = new Client(`http://127.0.0.1:${this.port}`);
        const logon = await this.send(who, 'login', () => client.post('/api/login'));
        if (logon !== null) {
          const { status, json, text } = logon.value;
          const kind: Kind = json?.worker !== expected ? 'wrong-worker' : status !== 200 || !client.cookies.has('demo.sid') ? 'status' : 'ok';
          this.answered(who, 'login', kind, logon.startedAt, logon.cuts, kind === 'ok' ? undefined : `${status} ${text.slice(0, 200)}`);
          if (kind === 'ok') {
            const counted = await this.send(who, 'count', () => client.post('/api/count'));
            if (counted !== null) {
              const { status: s, json: j, text: t } = counted.value;
              const ok = j?.worker === expected && s === 200 && j.session.counter >= 1 && j.session.counter <= 1 + counted.cuts;
              this.answered(who, 'count', j?.worker !== expected ? 'wrong-worker' : ok ? 'ok' : 'status', counted.startedAt, counted.cuts, ok ? undefined : `${s} ${t.slice(0, 200)}`);
            }
          }
        }
      }
      await pace();
    }
  }

  constructor(readonly port: number) {}
}

function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Logs the user off on a connection of its own and kills the supervisor the moment the answer's
 * head arrives: the proxy has just unbound the session (the app reported ttl=0), and the store
 * hears of it only at its next flush (every 200 ms), which most likely never comes.
 */
function logoffThenKill(install: Installation, user: User, pid: number): Promise<{ status: number; body: string; sentAt: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: install.proxyPort,
        path: '/api/logout',
        method: 'POST',
        agent: false,
        headers: { cookie: cookieHeader(user.client), 'content-type': 'application/json' },
      },
      (res) => {
        // Taken before the kill: whatever the kill cut ended after this.
        const sentAt = Date.now();
        process.kill(pid, 'SIGKILL');
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        // The body may have been cut with the supervisor; the head said what happened.
        res.on('close', () => resolve({ status: res.statusCode ?? 0, body, sentAt }));
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

describe('supervision under load (issue #9)', () => {

  it(`the supervisor killed ${KILLS} times under load: the port keeps answering, every request reaches its worker, and no phantom holds the detached one`, async () => {
    await using install = await Installation.create({ drain: { maxSeconds: 600, unconfirmedSeconds: WINDOW_SECONDS } });
    const began = Date.now();
    const { run: keeper } = await install.start(true);
    const failWith = () => `\n--- keeper output ---\n${keeper.output}`;

    // 12 users on web@0, which is then detached: web@1 takes every new session.
    const web0Users: User[] = [];
    for (let i = 0; i < WEB0_USERS; i++) {
      const client = await login(install);
      expect(await count(client)).toEqual({ worker: 'web@0', counter: 1 });
      web0Users.push({ name: `web0-user${i}`, client, worker: 'web@0', counter: 1, ok: 0, leave: false });
    }
    await install.mutate('workers.detachAndSync', { worker: 'web@0' });
    const web0 = await install.worker('web@0');
    expect(web0).toMatchObject({ state: 'detached', sessions: WEB0_USERS });
    const web1Users: User[] = [];
    for (let i = 0; i < WEB1_USERS; i++) {
      const client = await login(install);
      expect(await count(client)).toEqual({ worker: 'web@1', counter: 1 });
      web1Users.push({ name: `web1-user${i}`, client, worker: 'web@1', counter: 1, ok: 0, leave: false });
    }
    const web1 = await install.worker('web@1');
    expect(web1.state).toBe('started');
    // The detach and every binding of web@0 are on disk before the first kill.
    await waitFor(() => install!.storedWorkers().find((w) => w.id === 'web@0')?.state === 'detached', 10_000, 'web@0 stored detached');
    await waitFor(
      () => {
        const stored = new Set(install!.storedSessions().filter((s) => s.worker === 'web@0').map((s) => s.id));
        return web0Users.every((u) => stored.has(sessionId(u.client)));
      },
      10_000,
      "web@0's sessions stored",
    );

    // The load: every user counting, new visitors arriving.
    const load = new Load(install.proxyPort);
    // Declared after the installation, so disposed before it: the load stops first.
    await using _stopLoad = disposer(() => {
      load.stopping = true;
    });
    const theLoad = load;
    for (const user of [...web0Users, ...web1Users]) user.loop = theLoad.user(user);
    const visitors = theLoad.visitors('web@1');
    const present = () => [...web0Users, ...web1Users].filter((u) => !u.leave);
    /** Waits until every user still logged on has had `n` more counts answered. */
    const progress = async (n: number, what: string) => {
      const base = new Map(present().map((u) => [u, u.ok]));
      await waitFor(() => [...base].every(([u, ok]) => u.leave || u.ok >= ok + n), 30_000, what);
    };
    const loggedOff: string[] = [];
    const kills: Kill[] = [];
    const killed = new Set<number>();
    let nextLeaver = 0;
    const leave = async (user: User) => {
      user.leave = true;
      await user.loop;
      loggedOff.push(sessionId(user.client));
    };

    for (let k = 1; k <= KILLS; k++) {
      const pid = await install.nextSupervisor(keeper, killed);
      // Everyone still logged on has been answered by this supervisor (restored sessions confirmed).
      await progress(3, `counts after restart ${k - 1}`);

      // A user of web@0 logs off while the supervisor is up: the store hears of it.
      const between = web0Users[nextLeaver++]!;
      await leave(between);
      const out = await between.client.post('/api/logout');
      expect(out.status).toBe(200);
      expect(out.json.worker).toBe('web@0');
      await waitFor(() => !install!.storedSessions().some((s) => s.id === loggedOff.at(-1)), 10_000, 'the logoff to be stored');
      await progress(2, `counts before kill ${k}`);

      // Another logs off and the supervisor is killed at once: a would-be phantom.
      const last = web0Users[nextLeaver++]!;
      await leave(last);
      killed.add(pid);
      const logoff = await logoffThenKill(install, last, pid);
      expect(logoff.status).toBe(200);
      await waitFor(() => !running(pid), 10_000, `supervisor ${pid} to die`);
      const goneAt = Date.now();
      const stored = new Set(install.storedSessions().map((s) => s.id));
      kills.push({ pid, sentAt: logoff.sentAt, goneAt, phantoms: loggedOff.filter((id) => stored.has(id)) });
    }

    // The last supervisor: everyone answered again, then the last users of web@0 log off.
    const lastPid = await install.nextSupervisor(keeper, killed);
    const restartedAt = Date.now();
    await progress(2, 'counts after the last restart');
    const remaining = web0Users.filter((u) => !u.leave);
    expect(remaining).toHaveLength(WEB0_USERS - 2 * KILLS);
    for (const user of remaining) {
      await leave(user);
      const out = await user.client.post('/api/logout');
      expect(out.status).toBe(200);
      expect(out.json.worker).toBe('web@0');
    }
    const lastLogoffAt = Date.now();
    // What still holds web@0: the restored phantoms, until the window after the restart ends.
    const web0AtLastLogoff = await install.worker('web@0');
    const heldAtLastLogoff = web0AtLastLogoff.sessions;
    await waitFor(async () => (await install!.worker('web@0')).state === 'stopped', WINDOW_SECONDS * 1000 + 30_000, 'web@0 to stop by itself');
    const web0StoppedMs = Date.now() - lastLogoffAt;
    await waitFor(() => !running(web0.pid!), 10_000, 'web@0 to exit');

    // The load stops; every loop ends by itself.
    theLoad.stopping = true;
    await Promise.all([...web1Users.map((u) => u.loop), visitors]);
    const loadEndedAt = Date.now();

    // --- Figures.
    const outcomes = theLoad.outcomes;
    const byKind: Record<string, number> = {};
    for (const o of outcomes) byKind[o.kind] = (byKind[o.kind] ?? 0) + 1;
    const cuts = outcomes.filter((o) => o.kind === 'cut');
    const answered = outcomes.filter((o) => o.kind === 'ok');
    const gapsMs = kills.map((kill) => {
      const first = answered.filter((o) => o.startedAt >= kill.goneAt).sort((a, b) => a.endedAt - b.endedAt)[0];
      return first === undefined ? null : first.endedAt - kill.sentAt;
    });
    const longestWaitMs = Math.max(...answered.map((o) => o.endedAt - o.startedAt));
    const cutOffsetsMs = cuts.map((o) => {
      const kill = kills.find((k) => o.startedAt <= k.goneAt + CUT_SLACK_MS && o.endedAt >= k.sentAt);
      return kill === undefined ? null : o.startedAt - kill.sentAt;
    });
    const events = await install.events();
    const reconciled = events.filter((e: HandoverEvent) => e.type === 'sessions.reconciled' && e.worker === 'web@0');
    const dropped = reconciled.reduce((sum, e) => sum + Number(e.data!.dropped), 0);
    const phantoms = new Set(kills.flatMap((k) => k.phantoms));
    const figures = {
      requests: outcomes.filter((o) => o.kind !== 'gave-up').length,
      answered: answered.length,
      byKind,
      cutsRetriedOk: answered.filter((o) => o.retried).length,
      cutCountsAppliedTwice: answered.filter((o) => o.detail === 'cut attempt counted too').length,
      cutCodes: [...new Set(cuts.map((o) => o.detail))],
      cutStartMsFromKill: cutOffsetsMs,
      kills: kills.length,
      keeperDelaysMs: [...keeper.output.matchAll(/starting a new one in (\d+) ms/g)].map((m) => Number(m[1])),
      gapsMs,
      longestWaitMs,
      phantomsPerKill: kills.map((k) => k.phantoms.length),
      phantoms: phantoms.size,
      reconciled: reconciled.map((e) => e.data),
      heldAtLastLogoff,
      lastLogoffAfterRestartMs: lastLogoffAt - restartedAt,
      web0StoppedMs,
      loadMs: loadEndedAt - began,
    };
    report('supervision under load', figures);
    const failures = outcomes.filter((o) => o.kind !== 'ok' && o.kind !== 'cut');
    const detail = `${JSON.stringify(figures)}\n${JSON.stringify(failures.slice(0, 20))}${failWith()}`;

    // --- Assertions.
    // The port never refused a connection, and nothing but cut connections failed.
    expect(byKind.refused ?? 0, detail).toBe(0);
    expect(failures, detail).toEqual([]);
    // Every cut is of a request in flight at a kill (sent before the supervisor was seen gone).
    // Each was sent again with success: a retry that failed otherwise, or a 4th cut in a row
    // ('gave-up'), would be among the failures; the counters allow for a cut one that was counted.
    expect(cutOffsetsMs.filter((o) => o === null), detail).toEqual([]);
    // Every user counted on (the progress waits above needed at least 3 answers from each one
    // still logged on after every restart).
    for (const user of [...web0Users, ...web1Users]) expect(user.ok, user.name).toBeGreaterThanOrEqual(3);
    expect(gapsMs.every((g) => g !== null), detail).toBe(true);
    expect((await install.pool()).sessionsLost).toBe(0);
    expect(events.filter((e) => e.type === 'worker.adopted' && e.worker === 'web@0')).toHaveLength(KILLS);
    expect(events.some((e) => e.type === 'worker.lost' || e.type === 'sessions.lost'), detail).toBe(false);
    // A logoff right before a kill did leave a phantom in the store (the scenario happened) …
    expect(phantoms.size, detail).toBeGreaterThanOrEqual(1);
    for (const id of phantoms) expect(loggedOff).toContain(id);
    // … carried over every restart (restored again, unconfirmed, by each supervisor) and dropped,
    // never kept: each at least once (one restored again after a drop that had no time to reach
    // the store would be dropped again). The last supervisor restored the real users still on
    // web@0, all confirmed by their counts, and exactly the phantoms the store held after the
    // last kill, all dropped after the window.
    expect(dropped, detail).toBeGreaterThanOrEqual(phantoms.size);
    const lastStart = events.findLast((e) => e.type === 'supervisor.started')!;
    const last = reconciled.at(-1)!;
    expect(last.id, detail).toBeGreaterThan(lastStart.id);
    const lastPhantoms = kills.at(-1)!.phantoms.length;
    expect(last.data, detail).toMatchObject({ restored: remaining.length + lastPhantoms, confirmed: remaining.length, ended: 0, dropped: lastPhantoms });
    // web@0 stopped by itself as soon as its last session ended (the drain check runs in the same
    // turn as what ended it): at the last logoff when nothing else held it then — it was no
    // longer detached when the test looked next —, else at the drop of the phantoms that did —
    // its drain the very next web@0 event after that sessions.reconciled.
    if (heldAtLastLogoff === 0) {
      expect(web0AtLastLogoff.state, detail).not.toBe('detached');
    } else {
      expect(events.find((e) => e.worker === 'web@0' && e.id > last.id), detail).toMatchObject({ type: 'worker.drained' });
    }
    expect(install.storedSessions().filter((s) => s.worker === 'web@0')).toEqual([]);
    expect((await install.pool()).sessionsLost).toBe(0);
    expect(await install.worker('web@1')).toMatchObject({ state: 'started', pid: web1.pid });

    // The keeper is still there; SIGTERM to it stops everything, no process left.
    expect(keeper.child.exitCode).toBeNull();
    expect(keeper.child.signalCode).toBeNull();
    expect(install.supervisorPids()).toHaveLength(KILLS + 1);
    expect(install.supervisorPids().filter(running)).toEqual([lastPid]);
    keeper.child.kill('SIGTERM');
    expect(await keeper.exited, failWith()).toBe(0);
    await waitFor(() => !running(lastPid) && !running(web1.pid!) && !running(web0.pid!), 10_000, 'every process to exit');
    expect(install.supervisorPids().filter(running)).toEqual([]);
    expect(install.storedWorkers().map((w) => [w.id, w.state])).toEqual(
      expect.arrayContaining([['web@1', 'stopped']]),
    );
  }, 180_000);
});
