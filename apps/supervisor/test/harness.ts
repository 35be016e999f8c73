import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { HandoverConfig } from '@handover/config';
import { loadConfig } from '@handover/config';
import type { HandoverEvent, WorkerInfo } from '@handover/process-table';
import { type RunningSupervisor, launchSupervisor } from '../src/launch';
import { waitFor } from './wait';

export { isProcessAlive, waitFor } from './wait';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
export const DEMO_SERVER = join(REPO_ROOT, 'apps/demo/server.mjs');
export const FIXTURES = join(import.meta.dirname, 'fixtures');

/** A pool running the demo app on a given revision. */
export function demoPool(revision: string, extra: Record<string, unknown> = {}): PoolFile {
  // The demo reports every session it makes and ends (X-Handover-Session).
  return { command: `node ${JSON.stringify(DEMO_SERVER)}`, sessionCookie: 'demo.sid', sessionReports: true, revision, ...extra };
}

/**
 * A base port for a test's workers. Test files run in parallel in separate vitest workers, and
 * two supervisors that both find a port free may both hand it out: each vitest worker therefore
 * draws from its own range of 5,000 ports (the supervisor still skips ports in use).
 */
export function randomBasePort(): number {
  // All below Linux's ephemeral range (32768–60999), where client connections take local ports.
  const pool = Math.max(1, Number(process.env.VITEST_POOL_ID ?? 1)) - 1;
  const base = 10_000 + (pool % 4) * 5_000 + Math.floor(Math.random() * 490) * 10;
  // fetch() refuses port 10080 (the Fetch standard's "bad ports"): a test asking web@0 there fails.
  return base <= FETCH_BAD_PORT && FETCH_BAD_PORT < base + 10 ? base + 10 : base;
}
const FETCH_BAD_PORT = 10_080;

export interface PoolFile {
  name?: string;
  command: string;
  sessionCookie: string;
  revision?: string;
  [key: string]: unknown;
}

/** The test token's environment, and a loader of the configuration file on ephemeral public ports (tests run side by side). */
export function testConfigLoader(configPath: string): { env: NodeJS.ProcessEnv; load: () => Promise<HandoverConfig> } {
  const env = { ...process.env, HANDOVER_CONTROL_TOKEN: 'test-token-0123456789abcdef' };
  const load = async (): Promise<HandoverConfig> => {
    const config = await loadConfig({ path: configPath, env });
    config.proxy.port = 0;
    config.control.port = 0;
    return config;
  };
  return { env, load };
}

/**
 * A real supervisor (real proxy, real control API, real child processes) on ephemeral ports,
 * with its config file and data directory in a temp folder that is removed afterwards:
 * `await using sup = await TestSupervisor.launch(…)` stops it when the test ends.
 */
export class TestSupervisor implements AsyncDisposable {
  running!: RunningSupervisor;
  readonly events: HandoverEvent[] = [];
  private unsubscribe: (() => void) | undefined;

  private constructor(
    readonly dir: string,
    readonly configPath: string,
  ) {}

  static async launch(pool: PoolFile, extra: Record<string, unknown> = {}): Promise<TestSupervisor> {
    const dir = await mkdtemp(join(tmpdir(), 'handover-test-'));
    const configPath = join(dir, 'handover.config.json');
    const harness = new TestSupervisor(dir, configPath);
    await harness.writeConfig(pool, extra);
    const { env, load } = testConfigLoader(configPath);
    harness.running = await launchSupervisor(await load(), { env, reloadConfig: load });
    harness.events.push(...harness.running.supervisor.listEvents({ limit: 1000 }));
    harness.unsubscribe = harness.running.supervisor.onEvent((event) => harness.events.push(event));
    return harness;
  }

  async writeConfig(pool: PoolFile, extra: Record<string, unknown> = {}): Promise<void> {
    this.basePort ??= randomBasePort();
    const file = {
      proxy: { port: 18080 },
      control: { port: 18090 },
      dataDir: join(this.dir, 'data'),
      pools: [
        {
          name: 'web',
          basePort: this.basePort,
          healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 50 },
          stop: { graceSeconds: 5 },
          ...pool,
        },
      ],
      ...extra,
    };
    await writeFile(this.configPath, JSON.stringify(file, null, 2));
  }

  private basePort: number | undefined;

  get supervisor() {
    return this.running.supervisor;
  }

  get proxyUrl(): string {
    return `http://127.0.0.1:${this.running.proxies[0]!.port}`;
  }

  get proxyPort(): number {
    return this.running.proxies[0]!.port;
  }

  worker(id: string): WorkerInfo {
    const found = this.supervisor.listWorkers().find((w) => w.id === id);
    if (!found) throw new Error(`no worker ${id} in ${this.supervisor.listWorkers().map((w) => w.id).join(', ')}`);
    return found;
  }

  /** Resolves with the first event (already seen or future) that matches; fails after the deadline. */
  waitForEvent(match: (event: HandoverEvent) => boolean, timeoutMs = 20_000): Promise<HandoverEvent> {
    return waitFor(() => this.events.find(match), timeoutMs, 'event');
  }

  /** Stops the supervisor and its workers, removes the temp folder; a second call is a no-op. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    await this.running?.stop(2_000);
    await rm(this.dir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A browser-like client: one cookie jar, requests through the proxy. */
export class Client {
  cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  async request(method: string, path: string, body?: string): Promise<{ status: number; headers: Headers; text: string; json: any }> {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.base + path, { method, headers, body, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const cleared = value === '' || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /expires=thu, 01 jan 1970/i.test(a));
      if (cleared) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  get(path: string) {
    return this.request('GET', path);
  }

  post(path: string, body = '{}') {
    return this.request('POST', path, body);
  }
}
