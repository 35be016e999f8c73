/** Events in a worker's life: start, ready, detach, drain, stop, crash, health, re-adoption. */
import type { PoolConfig } from '@handover/config';
import type { InstanceState } from '@handover/process-table';
import type { NewEvent } from '../event-log';
import type { Worker } from '../worker';
import type { ExitInfo } from '../worker-process';
import { SUPERVISOR, count, describeExit, seconds } from './format';

type Event = Omit<NewEvent, 'pool' | 'worker'>;
/** Names the pool and the worker of every event in this file. */
function about(worker: Worker, event: Event): NewEvent {
  return { ...event, pool: worker.pool, worker: worker.id };
}

export function starting(actor: string, worker: Worker, preferredPort: number, config: PoolConfig): NewEvent {
  const { port, generation } = worker;
  return about(worker, {
    type: 'worker.starting',
    actor,
    message:
      `starting ${worker.id} on port ${port}, revision ${config.revision}` +
      (port !== preferredPort ? ` (port ${preferredPort} = basePort + ${generation} is in use, so the next free one)` : ''),
    data: { port, preferredPort, revision: config.revision, command: config.command },
  });
}

export function started(actor: string, worker: Worker, startMs: number): NewEvent {
  const { pid, port, revision } = worker;
  return about(worker, {
    type: 'worker.started',
    actor,
    message: `${worker.id} is ready (revision ${revision}, pid ${pid}, port ${port}) after ${seconds(startMs)}; it takes new sessions`,
    data: { pid, port, revision, startMs },
  });
}

export function failedToStart(actor: string, worker: Worker, reason: string): NewEvent {
  return about(worker, {
    type: 'worker.failed',
    actor,
    message: `${worker.id} did not start: ${reason}`,
    data: { output: worker.logs.tail(20).map((line) => line.text) },
  });
}

export function lostPort(actor: string, worker: Worker, retry: number): NewEvent {
  return about(worker, {
    type: 'worker.failed',
    actor,
    message: `${worker.id} lost port ${worker.port} to another process (EADDRINUSE); trying the next generation on another port`,
    data: { port: worker.port, retry },
  });
}

/** Stopped because it hung: its end was not wanted, so it shows as crashed, with why. */
export function endedUnhealthy(worker: Worker, info: ExitInfo): NewEvent {
  return about(worker, {
    type: 'worker.crashed',
    actor: SUPERVISOR,
    message: `${worker.id} ended after it was stopped for not answering its health check (${describeExit(info)})`,
    data: { code: info.code, signal: info.signal, reason: 'unhealthy' },
  });
}

export function crashed(worker: Worker, info: ExitInfo, uptimeMs: number, sessionsLost: number): NewEvent {
  return about(worker, {
    type: 'worker.crashed',
    actor: SUPERVISOR,
    message: `${worker.id} crashed (${describeExit(info)}) after ${seconds(uptimeMs)}${sessionsLost > 0 ? `; ${count(sessionsLost, 'session')} lost` : ''}`,
    data: { code: info.code, signal: info.signal, uptimeMs, sessionsLost },
  });
}

export function stopped(worker: Worker, info: ExitInfo): NewEvent {
  return about(worker, {
    type: 'worker.stopped',
    actor: SUPERVISOR,
    message: `${worker.id} stopped (${describeExit(info)})`,
    data: { code: info.code, signal: info.signal },
  });
}

export function stopping(worker: Worker, reason: string, graceSeconds: number): NewEvent {
  return about(worker, {
    type: 'worker.stopping',
    actor: SUPERVISOR,
    message: `stopping ${worker.id} (${reason}): SIGTERM, SIGKILL after ${graceSeconds}s`,
  });
}

export function killed(worker: Worker, graceSeconds: number): NewEvent {
  return about(worker, {
    type: 'worker.killed',
    actor: SUPERVISOR,
    message: `${worker.id} did not exit within ${graceSeconds}s of SIGTERM and was killed`,
  });
}

export function detached(actor: string, worker: Worker, target: Worker | undefined, maxSeconds: number | null): NewEvent {
  return about(worker, {
    type: 'worker.detached',
    actor,
    message:
      `${worker.id} detached: keeps serving ${worker.sessions === 1 ? 'its 1 session' : `its ${worker.sessions} sessions`}, takes no new ones` +
      (target ? `; new sessions go to ${target.id}` : '') +
      (maxSeconds !== null ? `; drain ends at the latest in ${maxSeconds}s` : ''),
    data: { sessions: worker.sessions, inFlight: worker.inFlight, webSockets: worker.webSockets },
  });
}

export function reattached(actor: string, worker: Worker): NewEvent {
  return about(worker, {
    type: 'worker.reattached',
    actor,
    message: `${worker.id} reattached by ${actor}: takes new sessions again`,
  });
}

export function drained(worker: Worker, drainMs: number): NewEvent {
  return about(worker, {
    type: 'worker.drained',
    actor: SUPERVISOR,
    message: `${worker.id} has no sessions, requests or WebSockets left (drained in ${seconds(drainMs)}); stopping it`,
    data: { drainMs },
  });
}

/** The session probe found a detached worker empty while cookie accounting still counted sessions on it. */
export function drainedByApp(worker: Worker, counted: number, path: string, drainMs: number): NewEvent {
  return about(worker, {
    type: 'worker.drained',
    actor: SUPERVISOR,
    message:
      `${worker.id} drained: the app reports 0 sessions, Handover still counted ${counted} (cookie accounting cannot see every logout); ` +
      `no request or WebSocket is open, so it is stopped (GET ${path}, drained in ${seconds(drainMs)})`,
    data: { drainMs, by: 'session-probe', appSessions: 0, countedSessions: counted, path },
  });
}

export function healthy(worker: Worker, path: string): NewEvent {
  return about(worker, { type: 'worker.healthy', actor: SUPERVISOR, message: `${worker.id} answers GET ${path} again` });
}

export function unhealthy(worker: Worker, check: { path: string; everySeconds: number; timeoutMs: number }): NewEvent {
  const { path, everySeconds, timeoutMs } = check;
  return about(worker, {
    type: 'worker.unhealthy',
    actor: SUPERVISOR,
    message:
      `${worker.id} did not answer GET ${path} on port ${worker.port} ${count(worker.healthFailures, 'time')} in a row (every ${everySeconds}s, ${seconds(timeoutMs)} each)` +
      (worker.state === 'started' ? '; it is stopped and replaced' : '; it is detached, so it is left to its drain'),
    data: { failures: worker.healthFailures, port: worker.port, path, state: worker.state, sessions: worker.sessions },
  });
}

export interface Adoption {
  pid: number | null;
  state: InstanceState;
  sessions: number;
  adoptMs: number;
  drainLeftMs: number | null;
  /** The window for restored sessions to be confirmed, when they must be. */
  unconfirmedMs: number | null;
  note: string;
}

export function adopted(worker: Worker, a: Adoption): NewEvent {
  return about(worker, {
    type: 'worker.adopted',
    actor: SUPERVISOR,
    message:
      `${worker.id} re-adopted (pid ${a.pid}, port ${worker.port}, revision ${worker.revision}, ${a.state}) with ${count(a.sessions, 'session')}` +
      (a.drainLeftMs !== null ? `; its drain ends at the latest in ${seconds(a.drainLeftMs)}` : '') +
      (a.unconfirmedMs !== null ? `; they are unconfirmed: those not used or reported within ${seconds(a.unconfirmedMs)} are dropped` : '') +
      a.note,
    data: { pid: a.pid, port: worker.port, state: a.state, sessions: a.sessions, adoptMs: a.adoptMs, drainLeftMs: a.drainLeftMs },
  });
}

export function lost(row: { id: string; pool: string; pid: number | null; state: InstanceState }, reason: string, killed: boolean, sessions: number): NewEvent {
  return {
    type: 'worker.lost',
    actor: SUPERVISOR,
    pool: row.pool,
    worker: row.id,
    message: `${row.id} (recorded ${row.state}) could not be re-adopted: ${reason}${sessions > 0 ? `; ${count(sessions, 'session')} lost` : ''}`,
    data: { pid: row.pid, recordedState: row.state, reason, killed, sessionsLost: sessions },
  };
}
