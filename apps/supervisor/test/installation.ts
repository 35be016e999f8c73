/**
 * A Handover installation run as real processes: a config and a data directory in a temp
 * folder, `handover <command>` spawned as the CLI would be, the control API queried over HTTP
 * and the store read by another process. Shared by the durability, keeper and phantom-session
 * tests; cleanup kills only the processes it started, by pid.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import type { HandoverEvent, PoolInfo, WorkerInfo } from '@handover/process-table';
import { type HandoverRun, START_MS, handoverConfig, spawnHandover, startHandover, waitForBanner, withPorts } from '../../../test-support/handover';
import { freePorts } from '../../../test-support/ports';
import { checkProcess, processStartTime } from '../src/proc-identity';
import { readStoredSessions } from '../src/stored-state';
import { Client, DEMO_SERVER, demoPool, randomBasePort, waitFor } from './harness';

export const TOKEN = 'durability-test-token-0123456789abcdef';

/** /proc/<pid>/stat state, or null when there is no such process. */
export function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

/** Running (a zombie waiting to be reaped by whoever adopted it counts as gone). */
export function running(pid: number): boolean {
  const state = procState(pid);
  return state !== null && state !== 'Z' && state !== 'X';
}

/** One of our demo workers (so cleanup never signals a process that is not ours). */
export function isOurWorker(pid: number): boolean {
  try {
    return running(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(DEMO_SERVER);
  } catch {
    return false;
  }
}

export type Run = HandoverRun;

/** A config, a data directory, and the supervisors run on them one after the other. */
export class Installation {
  readonly runs: Run[] = [];
  /**
   * Every worker process ever seen, pid → its start time, for the cleanup: pids are reused fast
   * (pid_max 32768 on the CI machine) and tests run side by side, so a pid alone could name
   * another test's worker by then.
   */
  readonly workerPids = new Map<number, string | null>();
  /** Until the first start: candidates, replaced if that start finds one taken. */
  private ports: { proxy: number; control: number };
  private started = false;
  private constructor(
    readonly dir: string,
    readonly configPath: string,
    proxyPort: number,
    controlPort: number,
  ) {
    this.ports = { proxy: proxyPort, control: controlPort };
  }

  static async create(pool: Record<string, unknown> = {}): Promise<Installation> {
    const dir = await mkdtemp(join(tmpdir(), 'handover-durability-'));
    const configPath = join(dir, 'handover.config.json');
    const [proxy, control] = (await freePorts(2)) as [number, number];
    await writeFile(
      configPath,
      JSON.stringify(
        handoverConfig(
          { proxy, control },
          join(dir, 'data'),
          demoPool('v1', {
            name: 'web',
            basePort: randomBasePort(),
            healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 50 },
            stop: { graceSeconds: 5 },
            ...pool,
          }),
        ),
      ),
    );
    return new Installation(dir, configPath, proxy, control);
  }

  get proxyPort(): number {
    return this.ports.proxy;
  }

  get controlPort(): number {
    return this.ports.control;
  }

  get dbFile(): string {
    return join(this.dir, 'data', 'state.db');
  }

  get proxyUrl(): string {
    return `http://127.0.0.1:${this.proxyPort}`;
  }

  /**
   * `handover <args>` as a real process. Without a keeper unless asked: most tests here kill the
   * supervisor and start the next one themselves (what happens without a keeper, or when the
   * keeper itself is killed).
   */
  cli(args: string[], keeper = false, env: NodeJS.ProcessEnv = {}): Run {
    const run = spawnHandover(args, { configPath: this.configPath, keeper, env: { HANDOVER_CONTROL_TOKEN: TOKEN, ...env } });
    this.runs.push(run);
    return run;
  }

  /**
   * Starts a supervisor and waits for its banner; returns it and how long it took. The first
   * start of an installation moves to other ports if one was taken since they were chosen
   * (the config file keeps whatever else the test wrote into it); later ones keep them.
   */
  async start(keeper = false, env: NodeJS.ProcessEnv = {}): Promise<{ run: Run; readyMs: number }> {
    const launch = () => this.cli(['start'], keeper, env);
    let started: { run: Run; readyMs: number };
    if (this.started) {
      const began = Date.now();
      const run = launch();
      await waitForBanner(run);
      started = { run, readyMs: Date.now() - began };
    } else {
      const first = await startHandover({ configPath: this.configPath, config: (ports) => withPorts(this.configPath, ports), launch });
      this.ports = first.ports;
      this.started = true;
      started = first;
    }
    await this.workers(); // remembers the pids
    return { run: started.run, readyMs: started.readyMs };
  }

  async query<T>(procedure: string, input?: unknown): Promise<T> {
    const query = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
    const res = await fetch(`http://127.0.0.1:${this.controlPort}/trpc/${procedure}${query}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const body = (await res.json()) as { result?: { data: T }; error?: unknown };
    if (!res.ok) throw new Error(`${procedure}: ${res.status} ${JSON.stringify(body.error)}`);
    return body.result!.data;
  }

  async mutate<T>(procedure: string, input: unknown): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.controlPort}/trpc/${procedure}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'x-handover-actor': 'test' },
      body: JSON.stringify(input),
    });
    const body = (await res.json()) as { result?: { data: T }; error?: unknown };
    if (!res.ok) throw new Error(`${procedure}: ${res.status} ${JSON.stringify(body.error)}`);
    return body.result!.data;
  }

  async workers(): Promise<WorkerInfo[]> {
    const workers = await this.query<WorkerInfo[]>('workers.list');
    for (const w of workers) if (w.pid !== null && !this.workerPids.has(w.pid)) this.workerPids.set(w.pid, processStartTime(w.pid));
    return workers;
  }

  async worker(id: string): Promise<WorkerInfo> {
    const found = (await this.workers()).find((w) => w.id === id);
    if (found === undefined) throw new Error(`no worker ${id}`);
    return found;
  }

  async pool(): Promise<PoolInfo> {
    return (await this.query<PoolInfo[]>('pools.list'))[0]!;
  }

  /** The pid of the running supervisor, from its latest `supervisor.started` event. */
  async supervisorPid(): Promise<number> {
    const started = (await this.events()).findLast((e) => e.type === 'supervisor.started')!;
    return Number(/pid (\d+)/.exec(started.message)![1]);
  }

  /** Every supervisor pid the event log has seen start, read from its file (no supervisor needed). */
  supervisorPids(): number[] {
    const db = new Database(join(this.dir, 'data', 'handover.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare("SELECT message FROM events WHERE type = 'supervisor.started' ORDER BY id").all() as Array<{ message: string }>;
      return rows.map((row) => Number(/pid (\d+)/.exec(row.message)![1]));
    } finally {
      db.close();
    }
  }

  async events(): Promise<HandoverEvent[]> {
    return this.query<HandoverEvent[]>('events.list', { limit: 1000 });
  }

  /** Waits until an event after `afterId` matches. */
  waitForEvent(match: (e: HandoverEvent) => boolean, afterId = 0, timeoutMs = 30_000): Promise<HandoverEvent> {
    return waitFor(async () => (await this.events()).find((e) => e.id > afterId && match(e)), timeoutMs, 'an event');
  }

  /** Session rows in the store, read by another process (the test) like a new supervisor would. */
  storedSessions(): Array<{ id: string; worker: string }> {
    if (!existsSync(this.dbFile)) return [];
    try {
      return readStoredSessions(this.dbFile).map(({ id, worker }) => ({ id, worker }));
    } catch {
      return [];
    }
  }

  storedWorkers(): Array<{ id: string; state: string; pid: number | null; pidStartTime: string | null }> {
    if (!existsSync(this.dbFile)) return [];
    const db = new Database(this.dbFile, { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT id, state, pid, pid_start_time AS pidStartTime FROM workers').all() as Array<{
        id: string;
        state: string;
        pid: number | null;
        pidStartTime: string | null;
      }>;
    } catch {
      return [];
    } finally {
      db.close();
    }
  }

  /** Waits until the store holds exactly these session → worker bindings. */
  async waitForStoredSessions(expected: Record<string, string>): Promise<void> {
    const want = JSON.stringify(Object.entries(expected).sort());
    await waitFor(
      () => JSON.stringify(this.storedSessions().map((s) => [s.id, s.worker]).sort()) === want,
      10_000,
      `the store to hold ${want}`,
    );
  }

  async kill9(run: Run): Promise<void> {
    run.child.kill('SIGKILL');
    await run.exited;
  }

  /**
   * Under a keeper: the pid of a supervisor that is running and not among `killed` (a new one
   * after a kill), read from the events through the control API. Fails at once, with the
   * keeper's output, when the keeper itself has exited.
   */
  async nextSupervisor(keeper: Run, killed: ReadonlySet<number>, timeoutMs = START_MS): Promise<number> {
    return waitFor(
      async () => {
        if (keeper.child.exitCode !== null || keeper.child.signalCode !== null) {
          throw new Error(`the keeper exited (${keeper.child.exitCode ?? keeper.child.signalCode}):\n${keeper.output}`);
        }
        try {
          const pid = await this.supervisorPid();
          return killed.has(pid) || !running(pid) ? undefined : pid;
        } catch {
          return undefined; // the control API is down between two supervisors
        }
      },
      timeoutMs,
      'a new supervisor',
    );
  }

  async proxyRefuses(): Promise<boolean> {
    try {
      await fetch(`${this.proxyUrl}/healthz`);
      return false;
    } catch (error) {
      return JSON.stringify((error as { cause?: { code?: string } }).cause?.code) === '"ECONNREFUSED"';
    }
  }

  /** Kills every process this installation started, by pid, whatever state the test left. */
  /** `await using install = await Installation.create()`: cleaned up when the test's block ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.cleanup();
  }

  async cleanup(): Promise<void> {
    for (const run of this.runs) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await Promise.all(this.runs.map((r) => r.exited));
    for (const w of this.storedWorkers()) if (w.pid !== null && !this.workerPids.has(w.pid)) this.workerPids.set(w.pid, w.pidStartTime);
    const ours = (pid: number, startTime: string | null) => isOurWorker(pid) && checkProcess({ pid, startTime }) === 'alive';
    for (const [pid, startTime] of this.workerPids) {
      if (!ours(pid, startTime)) continue;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await waitFor(() => [...this.workerPids].every(([pid, startTime]) => !ours(pid, startTime)), 10_000, 'every worker to be gone');
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function login(install: Installation): Promise<Client> {
  const client = new Client(install.proxyUrl);
  const res = await client.post('/api/login');
  expect(res.status).toBe(200);
  return client;
}

export async function count(client: Client): Promise<{ worker: string; counter: number }> {
  const res = await client.post('/api/count');
  expect(res.status, res.text).toBe(200);
  return { worker: res.json.worker, counter: res.json.session.counter };
}

export function sessionId(client: Client): string {
  return client.cookies.get('demo.sid')!;
}

/** A POST on a connection of its own (no keep-alive pool). */
export function postOnNewConnection(port: number, path: string, cookie: string): Promise<{ status: number; body: string }> {
  return onNewConnection(port, 'POST', path, { cookie, 'content-type': 'application/json' }, '{}');
}

export function onNewConnection(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Figures for docs/RELIABILITY.md, printed once per test. */
export function report(name: string, figures: Record<string, unknown>): void {
  process.stdout.write(`[durability] ${name}: ${JSON.stringify(figures)}\n`);
}

