/**
 * The session probe (`pools[].sessionProbe`): every running (started or detached) worker of a
 * pool that has one is asked for the app's own session count, `GET <path>` on the worker's own
 * port (never through the proxy, so no request, session or lease is touched), one request at a
 * time per worker, on a timer of its own. The answer is kept on the row (`appSessions`, null with
 * `appSessionsError` when the probe failed) for the console and the CLI.
 *
 * It decides one thing: a detached worker whose app says 0, with no request in flight and no
 * WebSocket open, has drained, whatever cookie accounting still counts (drain.ts
 * `drainedByApp`). A started worker's count is only shown; a failed probe decides nothing.
 */
import { request } from 'node:http';
import type { SessionProbeConfig } from '@handover/config';
import { isRoutable } from '@handover/process-table';
import { drainedByApp } from './drain';
import { seconds } from './events';
import type { Pool } from './pool';
import type { Runtime } from './runtime';
import type { Worker } from './worker';

/** More than any count needs; a bigger answer is a failed probe. */
const MAX_BODY_BYTES = 64 * 1024;

export type ProbeAnswer = { count: number } | { error: string };

/**
 * Starts probing `worker` if its pool has a probe and it is not probed already (liveness.ts calls
 * this when a worker starts or is re-adopted, config-reload.ts after a sync). Runs until the
 * worker is no longer started or detached, the pool's probe is removed, or the supervisor stops.
 */
export function watchSessionProbe(rt: Runtime, pool: Pool, worker: Worker): void {
  if (pool.config.sessionProbe === null || worker.sessionProbeTimer !== null || worker.sessionProbeBusy) return;
  const check = async (): Promise<void> => {
    const probe = pool.config.sessionProbe;
    if (probe === null) {
      // Removed by a sync: nothing known any more.
      worker.appSessions = worker.appSessionsAt = worker.appSessionsError = null;
      return;
    }
    if (rt.stopping || !isRoutable(worker.state)) return;
    const asked = { state: worker.state, sessions: worker.sessions, busy: worker.inFlight > 0 || worker.webSockets > 0 };
    worker.sessionProbeBusy = true;
    let answer: ProbeAnswer;
    try {
      answer = await askApp(worker.port, probe);
    } catch (error) {
      answer = { error: `GET ${probe.path}: ${error instanceof Error ? error.message : String(error)}` };
    } finally {
      worker.sessionProbeBusy = false;
    }
    // Its last answer stays on the row of a worker that ended meanwhile.
    if (rt.stopping || !isRoutable(worker.state)) return;
    worker.appSessionsAt = new Date();
    if ('error' in answer) {
      worker.appSessions = null;
      worker.appSessionsError = answer.error;
    } else {
      worker.appSessions = answer.count;
      worker.appSessionsError = null;
      // Detached while it was asked, nothing under way then or now, and no session bound
      // meanwhile (one the app made after it answered would be cut): the rest are phantoms.
      if (answer.count === 0 && asked.state === 'detached' && !asked.busy && worker.sessions > 0 && worker.sessions <= asked.sessions) {
        drainedByApp(rt, pool, worker, probe.path);
        if (!isRoutable(worker.state)) return;
      }
    }
    worker.scheduleSessionProbe(probe.intervalSeconds * 1000, () => void check());
  };
  // At once: the worker has just answered its health check.
  worker.scheduleSessionProbe(0, () => void check());
}

/** One probe: the app's count, or why there is none. Never rejects. */
export function askApp(port: number, probe: SessionProbeConfig, host = '127.0.0.1'): Promise<ProbeAnswer> {
  const what = `GET ${probe.path} on port ${port}`;
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: ProbeAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(answer);
    };
    const req = request(
      { host, port, path: probe.path, method: 'GET', agent: false, headers: { accept: 'application/json, text/plain;q=0.9, */*;q=0.5', ...probe.headers } },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) return done({ error: `${what} answered ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}` });
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) return done({ error: `${what}: the answer is over ${MAX_BODY_BYTES / 1024} KiB` });
          chunks.push(chunk);
        });
        res.on('end', () => {
          const answer = readAppSessions(Buffer.concat(chunks).toString('utf8'), probe.pattern);
          done('error' in answer ? { error: `${what}: ${answer.error}` } : answer);
        });
        res.on('error', (error) => done({ error: `${what}: ${error.message}` }));
      },
    );
    const timer = setTimeout(() => done({ error: `${what}: no complete answer within ${seconds(probe.timeoutSeconds * 1000)}` }), probe.timeoutSeconds * 1000);
    timer.unref();
    req.on('error', (error: NodeJS.ErrnoException) => done({ error: `${what}: ${error.code ?? error.message}` }));
    req.end();
  });
}

/**
 * The count in a probe's answer. With a pattern (compiled with the `m` flag): its first capture
 * group, which must be a whole number. Without: a JSON answer that is a number, or an object with
 * a top-level `"sessions"` number; any other answer's first whole number.
 */
export function readAppSessions(body: string, pattern: string | null): ProbeAnswer {
  if (pattern !== null) {
    const match = new RegExp(pattern, 'm').exec(body);
    if (match === null) return { error: `no match for the pattern ${JSON.stringify(pattern)} in ${excerpt(body)}` };
    const group = match[1];
    if (group === undefined) return { error: `the pattern ${JSON.stringify(pattern)} matched, but its first group did not take part` };
    return wholeNumber(group.trim()) ?? { error: `the pattern's first group is ${JSON.stringify(group)}, not a whole number` };
  }
  const text = body.trim();
  if (text.startsWith('{') || text.startsWith('[') || /^-?\d/.test(text)) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (typeof json === 'number') return wholeNumber(String(json)) ?? { error: `${text} is not a whole number of sessions` };
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
      const sessions = (json as Record<string, unknown>).sessions;
      if (typeof sessions === 'number') return wholeNumber(String(sessions)) ?? { error: `"sessions" is ${sessions}, not a whole number` };
      return { error: `a JSON answer needs a top-level "sessions" number (or set sessionProbe.pattern); got ${excerpt(body)}` };
    }
  }
  const first = /\b\d+\b/.exec(body);
  if (first === null) return { error: `no whole number in ${excerpt(body)} (set sessionProbe.pattern to say where it is)` };
  return wholeNumber(first[0]) ?? { error: `${first[0]} is too large to be a count` };
}

function wholeNumber(text: string): { count: number } | null {
  if (!/^\d+$/.test(text)) return null;
  const count = Number(text);
  return Number.isSafeInteger(count) ? { count } : null;
}

function excerpt(body: string): string {
  if (body.trim() === '') return 'an empty answer';
  const flat = body.replace(/\s+/g, ' ').trim();
  return `the answer ${JSON.stringify(flat.length > 60 ? `${flat.slice(0, 57)}...` : flat)}`;
}
