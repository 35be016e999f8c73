import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type HandoverConfig, loadConfig } from '@handover/config';
import type { HandoverEvent, WorkerInfo } from '@handover/process-table';
import { type RunningSupervisor, launchSupervisor } from '@handover/supervisor';
import WebSocket from 'ws';
import { type FailureKind, LoadClient, RequestFailure, cookieUpdate } from './http-client';
import { type Summary, splitByWindows, summarize } from './stats';

export const DEMO_SERVER = resolve(import.meta.dirname, '../../apps/demo/server.mjs');
const COOKIE = 'demo.sid';
const POOL = 'web';
const ACTOR = 'soak';

export interface SoakOptions {
  /** Concurrent simulated users, each with its own session. */
  users: number;
  /** Seconds of load (cycles happen during this time). */
  durationS: number;
  /** Seconds between the starts of two detach-and-sync cycles. */
  cycleEveryS: number;
  /** Share of users (0..1) holding a WebSocket open while logged on. */
  wsShare: number;
  /** Think time between two requests of one user, ms (uniform in [min, max]). */
  thinkMs: [number, number];
  /** Mean time a user stays logged on, seconds (exponential, capped at 8× the mean). */
  sessionMeanS: number;
  /** Pause between logging off and logging on again, ms (uniform in [0, max]). */
  offlineMaxMs: number;
  /** A request without an answer after this long counts as a timeout. */
  requestTimeoutMs: number;
  /** After the load stops and everyone logged off: how long old workers get to drain and stop. */
  drainTimeoutS: number;
  /** Requests starting within ±this of a switch count as "during the switch". */
  switchWindowMs: number;
  /** PRNG seed (think times, session lengths, who holds a WebSocket). */
  seed: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export const DEFAULT_OPTIONS: SoakOptions = {
  users: 200,
  durationS: 120,
  cycleEveryS: 2,
  wsShare: 0.1,
  thinkMs: [50, 150],
  sessionMeanS: 4,
  offlineMaxMs: 500,
  requestTimeoutMs: 10_000,
  drainTimeoutS: 60,
  switchWindowMs: 500,
  seed: 1,
};

export interface DrainRecord {
  worker: string;
  revision: string;
  /** ms since the start of the run (supervisor event receipt times). */
  detachedAt: number;
  stoppedAt: number | null;
  /** detached → stopped, ms; null when it never stopped. */
  drainMs: number | null;
  /**
   * Its last session's logoff answer arrived → the supervisor's worker.drained event, ms (how fast
   * the end of a drain is noticed; slightly negative when the event beats the answer to the client).
   */
  lastLogoffToDrainedMs: number | null;
  /** worker.drained → worker.stopped (SIGTERM to exit), ms. */
  drainedToStoppedMs: number | null;
}

export interface CycleRecord {
  index: number;
  from: string;
  to: string | null;
  revision: string;
  /** ms since the start of the run. */
  calledAt: number;
  /** detachAndSync call → successor's worker.started event, ms. */
  switchMs: number | null;
  /** detachAndSync call → promise resolved, ms. */
  callMs: number;
  /** A fresh session made right after the call landed on the successor. */
  probeOk: boolean;
  error: string | null;
}

export interface SoakReport {
  ok: boolean;
  /** Every broken expectation, in words; empty when ok. */
  problems: string[];
  options: Omit<SoakOptions, 'log'>;
  /** Load phase length, ms. */
  loadMs: number;
  totalMs: number;
  requests: {
    sent: number;
    answered: number;
    failed: number;
    failures: Record<FailureKind | 'status5xx' | 'unexpectedStatus', number>;
    /** The first few failures, verbatim. */
    samples: string[];
    perSecond: number;
  };
  sessions: {
    logins: number;
    logouts: number;
    /** Responses for a logged-on user that came from another worker than the one at login. */
    wrongWorker: number;
    /** Counter not previous+1, unknown session (401) or another session id. */
    stateLost: number;
    /** A login sent after a worker was detached that still landed on that worker. */
    newSessionOnDetached: number;
    /** Responses whose revision was not the revision that worker was started on. */
    wrongRevision: number;
    /** Logins that landed on another worker than the same user's previous session (moved over). */
    movedToNewer: number;
    loginsPerWorker: Record<string, number>;
    /** Sessions the surviving worker still counts after everyone logged off (accounting leak). */
    leftOnSurvivor: number;
    samples: string[];
  };
  websockets: {
    opened: number;
    openFailed: number;
    messages: number;
    echoed: number;
    wrongWorker: number;
    unexpectedClose: number;
    samples: string[];
  };
  cycles: {
    requested: number;
    succeeded: number;
    failed: number;
    probeMismatch: number;
    switchMs: Summary;
    callMs: Summary;
    list: CycleRecord[];
  };
  drains: {
    detached: number;
    stopped: number;
    drainMs: Summary;
    lastLogoffToDrainedMs: Summary;
    drainedToStoppedMs: Summary;
    list: DrainRecord[];
  };
  end: {
    converged: boolean;
    /** From "everyone logged off" to one worker per pool, ms. */
    convergeMs: number;
    alive: Record<string, string[]>;
  };
  latency: {
    windowMs: number;
    all: Summary;
    nearSwitch: Summary;
    rest: Summary;
  };
  supervisorEvents: {
    crashed: number;
    killed: number;
    failedStarts: number;
    sessionsLostEvents: number;
    sessionsLost: number;
  };
}

const SAMPLE_LIMIT = 20;

/** mulberry32: a small deterministic PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The config file the soak writes (and rewrites with a new revision before every cycle). */
function configFile(dir: string, basePort: number, revision: string): string {
  return JSON.stringify(
    {
      proxy: { host: '127.0.0.1', port: 18080 }, // overridden to 0 (ephemeral) after loading
      control: { host: '127.0.0.1', port: 18090 },
      dataDir: join(dir, 'data'),
      pools: [
        {
          name: POOL,
          command: `node ${JSON.stringify(DEMO_SERVER)}`,
          sessionCookie: COOKIE,
          sessionReports: true,
          revision,
          basePort,
          healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 25 },
          stop: { graceSeconds: 5 },
        },
      ],
    },
    null,
    2,
  );
}

interface DemoState {
  worker: string;
  revision: string;
  session: { id: string; counter: number; notes: string[] } | null;
}

/**
 * Runs the zero-downtime soak: a real supervisor (proxy, control API, demo workers) on
 * ephemeral loopback ports, `users` simulated users checking their session on every answer,
 * and a detach-and-sync every `cycleEveryS` seconds. Everything it starts is stopped before it
 * returns (also on error).
 */
export async function runSoak(partial: Partial<SoakOptions> = {}): Promise<SoakReport> {
  const options: SoakOptions = { ...DEFAULT_OPTIONS, ...partial };
  const log = options.log ?? (() => {});
  const random = prng(options.seed);
  const t0 = performance.now();
  const now = () => performance.now() - t0;

  const dir = await mkdtemp(join(tmpdir(), 'handover-soak-'));
  const configPath = join(dir, 'handover.config.json');
  // Below Linux's ephemeral range (32768–60999): there the thousands of client connections of
  // the soak itself take local ports, and one may take a worker's port between the supervisor's
  // check and the worker's listen (seen once as a failed start).
  const basePort = 12_000 + Math.floor(Math.random() * 1_500) * 10;
  let revisionNumber = 0;
  await writeFile(configPath, configFile(dir, basePort, `v${revisionNumber}`));
  const env = { ...process.env, HANDOVER_CONTROL_TOKEN: 'soak-token-0123456789abcdef0123' };
  const load = async (): Promise<HandoverConfig> => {
    const config = await loadConfig({ path: configPath, env });
    config.proxy.port = 0;
    config.control.port = 0;
    return config;
  };

  // ---- what we learn from the supervisor's events (receipt times on our clock) ----
  const events: Array<{ t: number; event: HandoverEvent }> = [];
  /** worker id → when it was detached (ms since t0). */
  const detachedAt = new Map<string, number>();
  const revisionOf = new Map<string, string>();
  const startedAt = new Map<string, number>();
  const onEvent = (event: HandoverEvent) => {
    const t = now();
    events.push({ t, event });
    if (event.worker === null) return;
    if (event.type === 'worker.starting') revisionOf.set(event.worker, String(event.data?.revision ?? ''));
    if (event.type === 'worker.started') startedAt.set(event.worker, t);
    if (event.type === 'worker.detached') detachedAt.set(event.worker, t);
  };

  let running: RunningSupervisor | undefined;
  let unsubscribe: (() => void) | undefined;
  let client: LoadClient | undefined;
  const sockets = new Set<WebSocket>();

  // ---- counters ----
  const failures: SoakReport['requests']['failures'] = { reset: 0, timeout: 0, refused: 0, other: 0, status5xx: 0, unexpectedStatus: 0 };
  const requestSamples: string[] = [];
  const sessionSamples: string[] = [];
  const wsSamples: string[] = [];
  const note = (list: string[], text: string) => {
    if (list.length < SAMPLE_LIMIT) list.push(`${(now() / 1000).toFixed(2)}s ${text}`);
  };
  let sent = 0;
  let answered = 0;
  let failed = 0;
  const sessions = {
    logins: 0,
    logouts: 0,
    wrongWorker: 0,
    stateLost: 0,
    newSessionOnDetached: 0,
    wrongRevision: 0,
    movedToNewer: 0,
    loginsPerWorker: {} as Record<string, number>,
  };
  const ws = { opened: 0, openFailed: 0, messages: 0, echoed: 0, wrongWorker: 0, unexpectedClose: 0 };
  const latencies: Array<{ at: number; value: number }> = [];
  /** worker id → when the last of its sessions was logged off (answer received), ms since t0. */
  const lastReleaseAt = new Map<string, number>();
  const released = (worker: string) => lastReleaseAt.set(worker, Math.max(lastReleaseAt.get(worker) ?? 0, now()));
  let stopLoad = false;
  let loadEndedAt = 0;

  try {
    running = await launchSupervisor(await load(), { env, reloadConfig: load });
    for (const event of running.supervisor.listEvents({ limit: 1000 })) onEvent(event);
    unsubscribe = running.supervisor.onEvent(onEvent);
    const supervisor = running.supervisor;
    const port = running.proxies[0]!.port;
    client = new LoadClient('127.0.0.1', port, options.requestTimeoutMs);
    const http = client;
    log(`supervisor up: proxy 127.0.0.1:${port}, worker ${currentWorker(supervisor.listWorkers())}, data in ${dir}`);

    /** One request, counted and timed; undefined when it failed (already counted). */
    const call = async (method: string, path: string, cookie: string | undefined, who: string) => {
      sent++;
      const at = now();
      try {
        const answer = await http.send(method, path, cookie);
        latencies.push({ at, value: now() - at });
        if (answer.status >= 500) {
          failed++;
          failures.status5xx++;
          note(requestSamples, `${who} ${method} ${path} → ${answer.status} ${answer.body.slice(0, 200).trim()}`);
          return undefined;
        }
        answered++;
        return { ...answer, at };
      } catch (error) {
        failed++;
        const kind = error instanceof RequestFailure ? error.kind : 'other';
        failures[kind]++;
        note(requestSamples, `${who} ${(error as Error).message}`);
        return undefined;
      }
    };

    const parse = (body: string): DemoState | undefined => {
      try {
        return JSON.parse(body) as DemoState;
      } catch {
        return undefined;
      }
    };

    const checkRevision = (state: DemoState, who: string) => {
      const expected = revisionOf.get(state.worker);
      if (expected !== undefined && expected !== state.revision) {
        sessions.wrongRevision++;
        note(sessionSamples, `${who}: ${state.worker} answered revision ${state.revision}, started on ${expected}`);
      }
    };

    // ---- one simulated user ----
    const user = async (index: number) => {
      const who = `user${index}`;
      // Exactly round(users × wsShare) users hold a WebSocket, spread over the index range.
      const holdsSocket = Math.floor((index + 1) * options.wsShare) > Math.floor(index * options.wsShare);
      let previousWorker: string | undefined;
      let messageSeq = 0;
      // Spread the start over the first second so the first logins are not one burst.
      await sleep(random() * 1000);
      while (!stopLoad) {
        // Log on.
        const loginAt = now();
        const login = await call('POST', '/api/login', undefined, who);
        if (login === undefined) {
          await sleep(100);
          continue;
        }
        const state = parse(login.body);
        const cookie = cookieUpdate(login.setCookie, COOKIE);
        if (login.status !== 200 || state?.session == null || typeof cookie !== 'string') {
          failures.unexpectedStatus++;
          note(sessionSamples, `${who}: login answered ${login.status} ${login.body.slice(0, 200)}`);
          await sleep(100);
          continue;
        }
        sessions.logins++;
        const worker = state.worker;
        sessions.loginsPerWorker[worker] = (sessions.loginsPerWorker[worker] ?? 0) + 1;
        checkRevision(state, who);
        const detached = detachedAt.get(worker);
        if (detached !== undefined && detached < loginAt) {
          sessions.newSessionOnDetached++;
          note(sessionSamples, `${who}: login sent ${(loginAt - detached).toFixed(0)} ms after ${worker} was detached still landed on it`);
        }
        if (previousWorker !== undefined && previousWorker !== worker) sessions.movedToNewer++;
        previousWorker = worker;
        const sessionId = state.session.id;
        const header = `${COOKIE}=${cookie}`;
        let counter = state.session.counter;
        let resync = false;
        const sessionEnds = now() + Math.min(-Math.log(1 - random()) * options.sessionMeanS * 1000, options.sessionMeanS * 8000);

        // A WebSocket for some users, held for the whole session.
        let socket: WebSocket | undefined;
        let closedByUs = false;
        const pending = new Map<string, (text: string) => void>();
        if (holdsSocket) {
          socket = await openSocket(port, header).catch((error: Error) => {
            ws.openFailed++;
            note(wsSamples, `${who}: WebSocket to ${worker} did not open: ${error.message}`);
            return undefined;
          });
          if (socket !== undefined) {
            ws.opened++;
            sockets.add(socket);
            socket.on('message', (data) => {
              const text = data.toString();
              const colon = text.indexOf(': ');
              const body = colon >= 0 ? text.slice(colon + 2) : text;
              const resolve = pending.get(body);
              if (resolve) {
                pending.delete(body);
                resolve(text);
              }
            });
            socket.on('close', (code, reason) => {
              sockets.delete(socket as WebSocket);
              for (const resolve of pending.values()) resolve('');
              pending.clear();
              if (!closedByUs) {
                ws.unexpectedClose++;
                note(wsSamples, `${who}: WebSocket to ${worker} closed by the other side (${code} ${reason.toString()})`);
              }
            });
            socket.on('error', () => {});
          }
        }

        // Use the session until it is time to log off.
        let iteration = 0;
        while (!stopLoad && now() < sessionEnds) {
          await sleep(options.thinkMs[0] + random() * (options.thinkMs[1] - options.thinkMs[0]));
          if (stopLoad) break;
          iteration++;
          const answer = await call('POST', '/api/count', header, who);
          if (answer === undefined) {
            resync = true; // it may or may not have counted
            continue;
          }
          const got = parse(answer.body);
          if (answer.status === 401 || (answer.status === 200 && got?.session == null)) {
            sessions.stateLost++;
            note(sessionSamples, `${who}: session ${sessionId.slice(0, 8)} on ${worker} is gone (${answer.status}, answered by ${got?.worker})`);
            break;
          }
          if (answer.status !== 200 || got?.session == null) {
            failures.unexpectedStatus++;
            note(sessionSamples, `${who}: count answered ${answer.status} ${answer.body.slice(0, 200)}`);
            resync = true;
            continue;
          }
          if (got.worker !== worker) {
            sessions.wrongWorker++;
            note(sessionSamples, `${who}: count answered by ${got.worker}, logged on at ${worker}`);
          }
          checkRevision(got, who);
          if (got.session.id !== sessionId) {
            sessions.stateLost++;
            note(sessionSamples, `${who}: expected session ${sessionId.slice(0, 8)}, got ${got.session.id.slice(0, 8)}`);
          } else if (resync ? got.session.counter <= counter : got.session.counter !== counter + 1) {
            sessions.stateLost++;
            note(sessionSamples, `${who}: counter ${got.session.counter} after ${counter} on ${got.worker}`);
          }
          counter = got.session.counter;
          resync = false;

          if (socket !== undefined && socket.readyState === WebSocket.OPEN && iteration % 3 === 0) {
            const message = `${who}-${++messageSeq}`;
            ws.messages++;
            const echo = await new Promise<string>((resolve) => {
              const timer = setTimeout(() => {
                pending.delete(message);
                resolve('');
              }, options.requestTimeoutMs);
              pending.set(message, (text) => {
                clearTimeout(timer);
                resolve(text);
              });
              socket!.send(message);
            });
            if (echo === `${worker}: ${message}`) ws.echoed++;
            else if (echo !== '') {
              ws.wrongWorker++;
              note(wsSamples, `${who}: echo ${JSON.stringify(echo)}, logged on at ${worker}`);
            } else if (socket.readyState === WebSocket.OPEN) {
              note(wsSamples, `${who}: no echo for ${message} within ${options.requestTimeoutMs} ms`);
            }
          }
        }

        // Log off (the WebSocket first, as a page would on navigating away).
        if (socket !== undefined) {
          closedByUs = true;
          await closeSocket(socket);
        }
        const logout = await call('POST', '/api/logout', header, who);
        if (logout !== undefined) {
          const got = parse(logout.body);
          if (logout.status !== 200 || cookieUpdate(logout.setCookie, COOKIE) !== null) {
            failures.unexpectedStatus++;
            note(sessionSamples, `${who}: logout answered ${logout.status} without clearing the cookie`);
          } else {
            sessions.logouts++;
            released(worker);
            if (got !== undefined && got.worker !== worker) {
              sessions.wrongWorker++;
              note(sessionSamples, `${who}: logout answered by ${got.worker}, logged on at ${worker}`);
            }
          }
        }
        if (!stopLoad) await sleep(random() * options.offlineMaxMs);
      }
    };

    // ---- detach-and-sync cycles ----
    const cycles: CycleRecord[] = [];
    const cycleLoop = async () => {
      let next = options.cycleEveryS * 1000;
      while (!stopLoad) {
        const wait = next - now();
        if (wait > 0) await sleep(wait);
        if (stopLoad) break;
        next += options.cycleEveryS * 1000;
        const from = currentWorker(supervisor.listWorkers());
        if (from === undefined) continue;
        revisionNumber++;
        const revision = `v${revisionNumber}`;
        await writeFile(configPath, configFile(dir, basePort, revision));
        const calledAt = now();
        const record: CycleRecord = { index: cycles.length + 1, from, to: null, revision, calledAt, switchMs: null, callMs: 0, probeOk: false, error: null };
        cycles.push(record);
        try {
          const result = await supervisor.detachAndSync(from, ACTOR);
          record.callMs = now() - calledAt;
          record.to = result.started.id;
          const started = startedAt.get(result.started.id);
          record.switchMs = started !== undefined ? started - calledAt : null;
          // A brand-new visitor right now must land on the successor.
          const probe = await call('POST', '/api/login', undefined, 'probe');
          const state = probe ? parse(probe.body) : undefined;
          record.probeOk = state?.worker === result.started.id;
          const cookie = probe ? cookieUpdate(probe.setCookie, COOKIE) : undefined;
          if (typeof cookie === 'string') await call('POST', '/api/logout', `${COOKIE}=${cookie}`, 'probe');
          log(
            `cycle ${record.index}: ${from} → ${record.to} (${revision}) switch ${record.switchMs?.toFixed(0)} ms; ` +
              `alive ${supervisor.listWorkers().filter((w) => isAliveState(w.state)).length}, requests ${sent}, failed ${failed}`,
          );
        } catch (error) {
          record.callMs = now() - calledAt;
          record.error = (error as Error).message;
          log(`cycle ${record.index}: detach-and-sync of ${from} failed: ${record.error}`);
        }
      }
    };

    const loadStart = now();
    const userRuns = Array.from({ length: options.users }, (_, i) => user(i));
    const cycleRun = cycleLoop();
    await sleep(options.durationS * 1000);
    stopLoad = true;
    loadEndedAt = now();
    log(`load stopped after ${((loadEndedAt - loadStart) / 1000).toFixed(1)} s; logging everyone off`);
    await Promise.all(userRuns);
    const loggedOffAt = now();
    await cycleRun;

    // ---- convergence: every old worker drains and stops ----
    const deadline = loggedOffAt + options.drainTimeoutS * 1000;
    let converged = false;
    for (;;) {
      const alive = supervisor.listWorkers().filter((w) => isAliveState(w.state));
      if (alive.length === 1 && alive[0]!.state === 'started') {
        converged = true;
        break;
      }
      if (now() > deadline) break;
      await sleep(50);
    }
    const convergeMs = now() - loggedOffAt;
    const workers = supervisor.listWorkers();
    const alive: Record<string, string[]> = {};
    for (const w of workers) if (isAliveState(w.state)) (alive[w.pool] ??= []).push(`${w.id} (${w.state}, ${w.sessions} sessions, ${w.inFlight} in flight, ${w.webSockets} ws)`);
    const survivor = workers.find((w) => w.state === 'started');
    const leftOnSurvivor = survivor?.sessions ?? -1;
    const pool = supervisor.listPools().find((p) => p.name === POOL);

    // ---- the report ----
    const drains: DrainRecord[] = [];
    const stoppedAt = new Map<string, number>();
    const drainedAt = new Map<string, number>();
    for (const { t, event } of events) {
      if (event.type === 'worker.stopped' && event.worker) stoppedAt.set(event.worker, t);
      if (event.type === 'worker.drained' && event.worker) drainedAt.set(event.worker, t);
    }
    for (const [worker, at] of detachedAt) {
      const stopped = stoppedAt.get(worker) ?? null;
      const drained = drainedAt.get(worker);
      const last = lastReleaseAt.get(worker);
      drains.push({
        worker,
        revision: revisionOf.get(worker) ?? '',
        detachedAt: at,
        stoppedAt: stopped,
        drainMs: stopped === null ? null : stopped - at,
        // Only meaningful when its last session ended after the detach.
        lastLogoffToDrainedMs: drained !== undefined && last !== undefined && last > at ? drained - last : null,
        drainedToStoppedMs: drained !== undefined && stopped !== null ? stopped - drained : null,
      });
    }
    drains.sort((a, b) => a.detachedAt - b.detachedAt);
    const count = (type: string) => events.filter((e) => e.event.type === type).length;
    const switches = [...detachedAt.values()];
    const { near, rest } = splitByWindows(latencies, switches, options.switchWindowMs);
    const loadMs = loadEndedAt - loadStart;
    const { log: _log, ...shownOptions } = options;

    const report: SoakReport = {
      ok: false,
      problems: [],
      options: shownOptions,
      loadMs,
      totalMs: 0,
      requests: { sent, answered, failed, failures, samples: requestSamples, perSecond: (sent / loadMs) * 1000 },
      sessions: { ...sessions, leftOnSurvivor, samples: sessionSamples },
      websockets: { ...ws, samples: wsSamples },
      cycles: {
        requested: cycles.length,
        succeeded: cycles.filter((c) => c.error === null).length,
        failed: cycles.filter((c) => c.error !== null).length,
        probeMismatch: cycles.filter((c) => c.error === null && !c.probeOk).length,
        switchMs: summarize(cycles.flatMap((c) => (c.switchMs === null ? [] : [c.switchMs]))),
        callMs: summarize(cycles.map((c) => c.callMs)),
        list: cycles,
      },
      drains: {
        detached: drains.length,
        stopped: drains.filter((d) => d.drainMs !== null).length,
        drainMs: summarize(drains.flatMap((d) => (d.drainMs === null ? [] : [d.drainMs]))),
        lastLogoffToDrainedMs: summarize(drains.flatMap((d) => (d.lastLogoffToDrainedMs === null ? [] : [d.lastLogoffToDrainedMs]))),
        drainedToStoppedMs: summarize(drains.flatMap((d) => (d.drainedToStoppedMs === null ? [] : [d.drainedToStoppedMs]))),
        list: drains,
      },
      end: { converged, convergeMs, alive },
      latency: {
        windowMs: options.switchWindowMs,
        all: summarize(latencies.map((l) => l.value)),
        nearSwitch: summarize(near),
        rest: summarize(rest),
      },
      supervisorEvents: {
        crashed: count('worker.crashed'),
        killed: count('worker.killed'),
        failedStarts: count('worker.failed'),
        sessionsLostEvents: count('sessions.lost'),
        sessionsLost: pool?.sessionsLost ?? 0,
      },
    };
    report.problems = problemsOf(report);
    report.ok = report.problems.length === 0;
    return finish(report);
  } finally {
    stopLoad = true;
    for (const socket of sockets) socket.terminate();
    unsubscribe?.();
    client?.close();
    await running?.stop(2_000);
    await rm(dir, { recursive: true, force: true });
  }

  function finish(report: SoakReport): SoakReport {
    report.totalMs = now();
    return report;
  }
}

/** Every expectation the soak checks, broken ones in words. Pure: runs on a finished report. */
export function problemsOf(report: SoakReport): string[] {
  const problems: string[] = [];
  const { requests, sessions, websockets, cycles, drains, end, supervisorEvents } = report;
  const expectZero = (value: number, what: string) => {
    if (value !== 0) problems.push(`${value} ${what}`);
  };
  expectZero(requests.failed, `request(s) failed (${Object.entries(requests.failures).filter(([, n]) => n > 0).map(([k, n]) => `${k}: ${n}`).join(', ')})`);
  expectZero(requests.failures.unexpectedStatus, 'unexpected answer(s) (not 200 where 200 was due)');
  expectZero(sessions.wrongWorker, 'response(s) served by another worker than the session’s');
  expectZero(sessions.stateLost, 'session state loss(es) (counter not previous+1, or session gone)');
  expectZero(sessions.newSessionOnDetached, 'new session(s) landed on a detached worker');
  expectZero(sessions.wrongRevision, 'response(s) with the wrong revision for their worker');
  if (sessions.leftOnSurvivor !== 0) problems.push(`the surviving worker still counts ${sessions.leftOnSurvivor} session(s) after everyone logged off`);
  expectZero(websockets.openFailed, 'WebSocket(s) failed to open');
  expectZero(websockets.wrongWorker, 'WebSocket echo(es) from the wrong worker');
  expectZero(websockets.unexpectedClose, 'WebSocket(s) closed by the server side');
  if (websockets.echoed !== websockets.messages) problems.push(`${websockets.messages - websockets.echoed} WebSocket message(s) without an echo`);
  expectZero(cycles.failed, 'detach-and-sync cycle(s) failed');
  expectZero(cycles.probeMismatch, 'cycle(s) where a fresh session did not land on the successor');
  if (cycles.succeeded === 0) problems.push('no detach-and-sync cycle completed');
  if (drains.stopped !== drains.detached) {
    problems.push(`${drains.detached - drains.stopped} detached worker(s) never stopped: ${drains.list.filter((d) => d.drainMs === null).map((d) => d.worker).join(', ')}`);
  }
  if (!end.converged) problems.push(`workers did not converge to one per pool: ${JSON.stringify(end.alive)}`);
  expectZero(supervisorEvents.crashed, 'worker crash(es)');
  expectZero(supervisorEvents.killed, 'worker(s) SIGKILLed after the stop grace');
  expectZero(supervisorEvents.failedStarts, 'worker start failure(s)');
  expectZero(supervisorEvents.sessionsLost, 'session(s) counted lost by the supervisor');
  return problems;
}

function isAliveState(state: WorkerInfo['state']): boolean {
  return state === 'starting' || state === 'started' || state === 'detached' || state === 'stopping';
}

/** The newest started (attached) worker: the one to detach next. */
function currentWorker(workers: WorkerInfo[]): string | undefined {
  const started = workers.filter((w) => w.state === 'started').sort((a, b) => b.generation - a.generation);
  return started[0]?.id;
}

function openSocket(port: number, cookie: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { cookie }, handshakeTimeout: 10_000 });
    socket.once('open', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('unexpected-response', (_req, res) => {
      socket.terminate();
      reject(new Error(`handshake answered ${res.statusCode}`));
    });
    socket.once('error', (error) => reject(error));
  });
}

function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, 2_000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.close(1000, 'logging off');
  });
}
