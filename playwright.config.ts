import { defineConfig, devices } from '@playwright/test';
import { CONSOLE_URL, PORTS, REPO_ROOT, STACK_DIR, stackConfig, stackEnv } from './e2e/support/stack';

/**
 * Browser tests of the admin console against the real stack: the supervisor with the demo
 * app (proxy, control API, workers) and the built console, on ports chosen when the run starts
 * (e2e/support/stack.ts), so a run meets nothing else on the machine.
 * `npm test` builds the console first; for a local run: `npm run build -w @handover/admin`
 * then `npx playwright test`. Chromium is Debian's (CHROMIUM_PATH overrides /usr/bin/chromium).
 */
export default defineConfig({
  testDir: './e2e',
  outputDir: './test-results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 15_000 },
  forbidOnly: !!process.env.CI,
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  use: {
    ...devices['Desktop Chrome'],
    baseURL: CONSOLE_URL,
    viewport: { width: 1280, height: 900 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: [
    {
      name: 'supervisor',
      command: `node e2e/support/start-supervisor.mjs ${JSON.stringify(STACK_DIR)} ${shellQuote(JSON.stringify(stackConfig('v1')))}`,
      cwd: REPO_ROOT,
      url: `http://127.0.0.1:${PORTS.control}/healthz`,
      env: stackEnv(),
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
      // SIGTERM, not SIGKILL: the supervisor must stop its workers (their own process groups).
      gracefulShutdown: { signal: 'SIGTERM', timeout: 15_000 },
    },
    {
      name: 'console',
      command: 'node apps/admin/scripts/start.mjs',
      cwd: REPO_ROOT,
      url: `${CONSOLE_URL}/login`,
      env: { ...stackEnv(), HANDOVER_ADMIN_PORT: String(PORTS.admin) },
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
      gracefulShutdown: { signal: 'SIGTERM', timeout: 10_000 },
    },
  ],
});

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
