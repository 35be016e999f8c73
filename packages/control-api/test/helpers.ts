import { startControlServer } from '../src/http-server';
import type { ControlServer, StartControlServerOptions } from '../src/http-server';
import { type AsyncResource, asyncResource } from '../../../test-support/resources';
import { FakeSupervisor } from './fake-supervisor';

export const TOKEN = 'test-token-0123456789abcdef';

export interface Harness {
  fake: FakeSupervisor;
  server: ControlServer;
  logs: string[];
  /** `fetch` against the server with the bearer token (unless `auth: false`). */
  call(path: string, init?: RequestInit & { auth?: boolean | string }): Promise<Response>;
  /** `call` with a JSON body over POST (extra headers added). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
}

/**
 * A control server on port 0 in front of a fresh fake; `await using h = await startHarness()`
 * closes it when the test ends. `options` override the test defaults (e.g. a short
 * `requestTimeoutMs`).
 */
export async function startHarness(options: Partial<StartControlServerOptions> = {}): Promise<AsyncResource<Harness>> {
  const fake = new FakeSupervisor();
  const logs: string[] = [];
  const server = await startControlServer({
    supervisor: fake,
    token: TOKEN,
    host: '127.0.0.1',
    port: 0,
    log: (line) => logs.push(line),
    ...options,
  });
  const harness: Harness = {
    fake,
    server,
    logs,
    call(path, init = {}) {
      const { auth = true, headers, ...rest } = init;
      const h = new Headers(headers);
      if (auth !== false) h.set('authorization', `Bearer ${auth === true ? TOKEN : auth}`);
      return fetch(new URL(path, server.url), { ...rest, headers: h });
    },
    post(path, body, headers = {}) {
      return harness.call(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
    },
  };
  return asyncResource(harness, () => server.close());
}

/** `startControlServer`, closed on dispose: `await using server = await startServer({ … })`. */
export async function startServer(options: StartControlServerOptions): Promise<AsyncResource<ControlServer>> {
  const server = await startControlServer(options);
  return asyncResource(server, () => server.close());
}

/** Polls `check` until it returns true, failing after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** `res.json()` typed loosely for assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const json = (res: Response): Promise<any> => res.json() as Promise<any>;
