import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { snap } from './support/console';
import { ADMIN_PASSWORD, ADMIN_USER, REPO_ROOT, stackConfig, stackEnv } from './support/stack';

/**
 * The supervisor goes away and comes back. This needs a supervisor the test may stop, so it
 * starts its own pair (supervisor + console) on other ports instead of the shared stack.
 */
const PORTS = { proxy: 18380, control: 18390, base: 18400 };
const ADMIN_PORT = 18101;
const DIR = path.join(tmpdir(), 'handover-e2e-reconnect');
const CONFIG = path.join(DIR, 'handover.config.json');
const ENV = { ...process.env, ...stackEnv(PORTS, DIR), HANDOVER_ADMIN_PORT: String(ADMIN_PORT) };

function start(args: string[]): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

const startSupervisor = () => start(['apps/supervisor/bin/handover.mjs', 'start', '--config', CONFIG]);

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function answers(url: string): Promise<number> {
  try {
    return (await fetch(url)).status;
  } catch {
    return 0;
  }
}

let supervisor: ChildProcess | undefined;
let adminConsole: ChildProcess | undefined;

test.beforeAll(async () => {
  await rm(DIR, { recursive: true, force: true });
  await mkdir(DIR, { recursive: true });
  await writeFile(CONFIG, JSON.stringify(stackConfig('v1', PORTS), null, 2));
  supervisor = startSupervisor();
  adminConsole = start(['apps/admin/scripts/start.mjs']);
  await expect.poll(() => answers(`http://127.0.0.1:${PORTS.control}/healthz`), { timeout: 60_000 }).toBe(200);
  await expect.poll(() => answers(`http://127.0.0.1:${ADMIN_PORT}/login`), { timeout: 60_000 }).toBe(200);
});

test.afterAll(async () => {
  await Promise.all([stop(adminConsole), stop(supervisor)]);
  await rm(DIR, { recursive: true, force: true });
});

test('the page says when the supervisor is gone and reconnects by itself', async ({ page }, testInfo) => {
  const base = `http://127.0.0.1:${ADMIN_PORT}`;
  await page.goto(`${base}/`);
  await page.getByLabel('User name').fill(ADMIN_USER);
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('worker-state-web@0')).toHaveText('started');
  await expect(page.getByTestId('live-indicator')).toHaveText('Live');

  await stop(supervisor);
  const banner = page.getByTestId('disconnected-banner');
  await expect(banner).toContainText('Disconnected from the supervisor — reconnecting…');
  await expect(banner).toContainText(`the supervisor is not answering on http://127.0.0.1:${PORTS.control}/`);
  await expect(page.getByTestId('live-indicator')).toHaveText('Offline');
  await snap(page, testInfo, 'disconnected');

  supervisor = startSupervisor();
  await expect(banner).toBeHidden({ timeout: 30_000 });
  await expect(page.getByTestId('reconnected-banner')).toContainText('Reconnected');
  await expect(page.getByTestId('live-indicator')).toHaveText('Live');
  // A new supervisor and, since the old one stopped its workers, a new worker: generations only
  // grow across restarts, so it is web@1, and the table shows it live; stopped web@0 is history
  // (the event log keeps it), not a row.
  await expect(page.getByTestId('worker-state-web@1')).toHaveText('started');
  await expect(page.getByTestId('worker-state-web@0')).toHaveCount(0);
  await snap(page, testInfo, 'reconnected');
  // The timeline resumed too: the restart's events are there.
  await expect(page.locator('[data-testid="event"][data-type="supervisor.started"]')).toHaveCount(2);
});
