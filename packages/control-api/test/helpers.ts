import { startControlServer } from '../src/server';
import type { ControlServer, StartControlServerOptions } from '../src/server';
import { FakeSupervisor } from './fake-supervisor';

export const TOKEN = 'test-token-0123456789abcdef';

export interface Harness {
  fake: FakeSupervisor;
  server: ControlServer;
  logs: string[];
  /** `fetch` against the server with the bearer token (unless `auth: false`). */
  call(path: string, init?: RequestInit & { auth?: boolean | string }): Promise<Response>;
}

/** `options` override the test defaults (e.g. a short `requestTimeoutMs`). */
export async function startHarness(options: Partial<StartControlServerOptions> = {}): Promise<Harness> {
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
  return {
    fake,
    server,
    logs,
    call(path, init = {}) {
      const { auth = true, headers, ...rest } = init;
      const h = new Headers(headers);
      if (auth !== false) h.set('authorization', `Bearer ${auth === true ? TOKEN : auth}`);
      return fetch(new URL(path, server.url), { ...rest, headers: h });
    },
  };
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
