import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePortsSync } from '../../test-support/ports';

/**
 * The stack the browser tests run against: a real supervisor with the demo app and the built
 * console, on ports of their own. Shared by playwright.config.ts (which starts it) and the
 * specs (which edit its config file). Its ports and directory are chosen at run time, once per
 * run, so that two runs (or anything else on the machine) do not meet: Playwright evaluates
 * this in its main process first, which puts them in the environment (HANDOVER_E2E_PORTS,
 * HANDOVER_E2E_DIR), and again in every worker process, which inherits that environment and
 * takes them from it. The start script empties the directory first and removes it at the end.
 */
// Playwright loads this as CommonJS (the root package is not "type": "module").
export const REPO_ROOT = path.resolve(__dirname, '../..');
export const STACK_DIR = (process.env.HANDOVER_E2E_DIR ??= path.join(tmpdir(), `handover-e2e-stack-${process.pid}`));
export const CONFIG_PATH = path.join(STACK_DIR, 'handover.config.json');
export const DATA_DIR = path.join(STACK_DIR, 'data');

interface StackPorts {
  proxy: number;
  control: number;
  /** The console. */
  admin: number;
  /** The workers' first port (the supervisor skips ports in use). */
  base: number;
}

/**
 * A base port for the workers, below Linux's ephemeral range (32768–60999) where client
 * connections take their local ports: a worker whose port one took would start as the next
 * generation, and the specs expect web@1 after web@0.
 */
export function randomBasePort(): number {
  return 20_000 + Math.floor(Math.random() * 1_200) * 10;
}

function runPorts(): StackPorts {
  const chosen = process.env.HANDOVER_E2E_PORTS;
  if (chosen !== undefined) return JSON.parse(chosen) as StackPorts;
  // Free now; the supervisor and the console bind them a moment later.
  const [proxy, control, admin] = freePortsSync(3) as [number, number, number];
  const ports = { proxy, control, admin, base: randomBasePort() };
  process.env.HANDOVER_E2E_PORTS = JSON.stringify(ports);
  return ports;
}

export const PORTS: Readonly<StackPorts> = runPorts();
export const CONSOLE_URL = `http://127.0.0.1:${PORTS.admin}`;
export const APP_URL = `http://127.0.0.1:${PORTS.proxy}`;

export const ADMIN_USER = 'admin';
export const ADMIN_PASSWORD = 'e2e-admin-password-123';
export const CONTROL_TOKEN = 'e2e-control-token-0123456789abcdef';

/** The environment both processes get; set explicitly so a developer's .env cannot move them. */
export function stackEnv(ports: { proxy: number; control: number; base: number } = PORTS, dir = STACK_DIR): Record<string, string> {
  return {
    HANDOVER_CONFIG: path.join(dir, 'handover.config.json'),
    HANDOVER_DATA_DIR: path.join(dir, 'data'),
    HANDOVER_PROXY_PORT: String(ports.proxy),
    HANDOVER_CONTROL_PORT: String(ports.control),
    HANDOVER_POOL_WEB_BASE_PORT: String(ports.base),
    HANDOVER_ADMIN_USER: ADMIN_USER,
    HANDOVER_ADMIN_PASSWORD: ADMIN_PASSWORD,
    HANDOVER_CONTROL_TOKEN: CONTROL_TOKEN,
    // No proxy in front: X-Forwarded-* are the client's word (security.spec.ts forges them).
    HANDOVER_ADMIN_TRUST_PROXY: '0',
  };
}

/** The demo pool on a revision; the specs rewrite `revision` to simulate a release. */
export function stackConfig(revision: string, ports: { proxy: number; control: number; base: number } = PORTS) {
  return {
    proxy: { host: '127.0.0.1', port: ports.proxy },
    control: { host: '127.0.0.1', port: ports.control },
    pools: [
      {
        name: 'web',
        command: `node ${JSON.stringify(path.join(REPO_ROOT, 'apps/demo/server.mjs'))}`,
        basePort: ports.base,
        sessionCookie: 'demo.sid',
        sessionReports: true,
        revision,
        instances: 1,
        healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 50 },
        stop: { graceSeconds: 5 },
      },
    ],
  };
}
