import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { answers, collectOutput, exitOf, freePorts, retryOnAddressInUse, waitUntilReady } from '../test-support/ports';
import { snap } from './support/console';
import { ADMIN_PASSWORD, ADMIN_USER, REPO_ROOT, randomBasePort, stackConfig, stackEnv } from './support/stack';

/**
 * The supervisor goes away and comes back. This needs a supervisor the test may stop, so it
 * starts its own pair (supervisor + console) on other ports instead of the shared stack:
 * chosen when it starts, and chosen again if one was taken before it was bound.
 */
let ports: { proxy: number; control: number; base: number };
let adminPort: number;
let dir: string;
let env: NodeJS.ProcessEnv;

/** What each process printed (read as it comes, so its pipes never fill), for failure messages. */
const outputs = new WeakMap<ChildProcess, () => string>();

function start(args: string[]): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  outputs.set(child, collectOutput(child));
  return child;
}

const startSupervisor = () => start(['apps/supervisor/bin/handover.mjs', 'start', '--config', path.join(dir, 'handover.config.json')]);

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = exitOf(child);
  child.kill('SIGTERM');
  await exited;
}

let supervisor: ChildProcess | undefined;
let adminConsole: ChildProcess | undefined;

test.beforeAll(async () => {
  await retryOnAddressInUse(async () => {
    // A fresh directory each attempt: the test counts the supervisor's starts and its workers.
    dir = await mkdtemp(path.join(tmpdir(), 'handover-e2e-reconnect-'));
    const [proxy, control, admin] = (await freePorts(3)) as [number, number, number];
    ports = { proxy, control, base: randomBasePort() };
    adminPort = admin;
    env = { ...process.env, ...stackEnv(ports, dir), HANDOVER_ADMIN_PORT: String(adminPort) };
    await writeFile(path.join(dir, 'handover.config.json'), JSON.stringify(stackConfig('v1', ports), null, 2));
    supervisor = startSupervisor();
    adminConsole = start(['apps/admin/scripts/start.mjs']);
    try {
      await waitUntilReady(supervisor, () => answers(`http://127.0.0.1:${ports.control}/healthz`), {
        what: 'the supervisor',
        output: outputs.get(supervisor)!,
        timeoutMs: 60_000,
      });
      await waitUntilReady(adminConsole, () => answers(`http://127.0.0.1:${adminPort}/login`), {
        what: 'the console',
        output: outputs.get(adminConsole)!,
        timeoutMs: 60_000,
      });
    } catch (error) {
      await Promise.all([stop(adminConsole), stop(supervisor)]);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  });
});

test.afterAll(async () => {
  await Promise.all([stop(adminConsole), stop(supervisor)]);
  await rm(dir, { recursive: true, force: true });
});

test('the page says when the supervisor is gone and reconnects by itself', async ({ page }, testInfo) => {
  const base = `http://127.0.0.1:${adminPort}`;
  await page.goto(`${base}/`);
  await page.getByLabel('User name').fill(ADMIN_USER);
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('worker-state-web@0')).toHaveText('started');
  await expect(page.getByTestId('live-indicator')).toHaveText('Live');
  // No wait for a history sample here: a stopping supervisor records its last counts itself.

  await stop(supervisor);
  const banner = page.getByTestId('disconnected-banner');
  await expect(banner).toContainText('Disconnected from the supervisor — reconnecting…');
  await expect(banner).toContainText(`the supervisor is not answering on http://127.0.0.1:${ports.control}/`);
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
  // The session history survived the restart (#10): a fresh page still draws web@0's line,
  // ended, from the supervisor's store.
  await page.reload();
  await expect(page.getByTestId('chart-legend-web@0')).toContainText('web@0 0 (ended)');
  await expect(page.getByTestId('worker-state-web@1')).toHaveText('started');
  // The timeline resumed too: the restart's events are there.
  await expect(page.locator('[data-testid="event"][data-type="supervisor.started"]')).toHaveCount(2);
});
