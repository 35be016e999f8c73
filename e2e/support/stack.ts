import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The stack the browser tests run against: a real supervisor with the demo app and the built
 * console, on ports of their own. Shared by playwright.config.ts (which starts it) and the
 * specs (which edit its config file). The directory is fixed, not random, because Playwright
 * evaluates the config in every worker process; the start script empties it each run.
 */
// Playwright loads this as CommonJS (the root package is not "type": "module").
export const REPO_ROOT = path.resolve(__dirname, '../..');
export const STACK_DIR = process.env.HANDOVER_E2E_DIR ?? path.join(tmpdir(), 'handover-e2e-stack');
export const CONFIG_PATH = path.join(STACK_DIR, 'handover.config.json');
export const DATA_DIR = path.join(STACK_DIR, 'data');

export const PORTS = { proxy: 18180, control: 18190, admin: 18100, base: 18200 } as const;
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
        revision,
        instances: 1,
        healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 50 },
        stop: { graceSeconds: 5 },
      },
    ],
  };
}
