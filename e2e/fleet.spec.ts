import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type APIRequestContext, expect, request, test } from '@playwright/test';
import { answers, collectOutput, exitOf, freePorts, retryOnAddressInUse, waitUntilReady } from '../test-support/ports';
import { setRevision, snap } from './support/console';
import { ADMIN_PASSWORD, ADMIN_USER, REPO_ROOT, randomBasePort, stackConfig, stackEnv } from './support/stack';

/**
 * The fleet console (#11): two real Handover nodes (demo app, own ports, own data directories,
 * each its own generated control token) and a console started with HANDOVER_FLEET naming both.
 * The operator sees both nodes and the total, drains node a and puts it back, then runs the
 * rolling sync after a new revision is configured on both.
 */
interface Node {
  name: 'a' | 'b';
  dir: string;
  ports: { proxy: number; control: number; base: number };
  process?: ChildProcess;
}
const nodes: Node[] = [];
let adminPort: number;
let adminConsole: ChildProcess | undefined;
let fleetDir: string;
const outputs = new WeakMap<ChildProcess, () => string>();

/** A node's environment: the stack's, but no fixed token (each node generates its own in its data dir). */
function nodeEnv(node: Node): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...stackEnv(node.ports, node.dir) };
  delete env.HANDOVER_CONTROL_TOKEN;
  return env;
}

function start(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  outputs.set(child, collectOutput(child));
  return child;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = exitOf(child);
  child.kill('SIGTERM');
  await exited;
}

async function stopAll(): Promise<void> {
  await stop(adminConsole);
  await Promise.all(nodes.map((node) => stop(node.process)));
  await Promise.all([...nodes.map((node) => rm(node.dir, { recursive: true, force: true })), fleetDir ? rm(fleetDir, { recursive: true, force: true }) : null]);
}

test.beforeAll(async () => {
  await retryOnAddressInUse(async () => {
    nodes.length = 0;
    const [pa, ca, pb, cb, admin] = (await freePorts(5)) as [number, number, number, number, number];
    adminPort = admin;
    fleetDir = await mkdtemp(path.join(tmpdir(), 'handover-e2e-fleet-'));
    for (const [name, proxy, control] of [['a', pa, ca], ['b', pb, cb]] as const) {
      const dir = await mkdtemp(path.join(tmpdir(), `handover-e2e-fleet-${name}-`));
      // Two base ports 100 apart so the nodes' workers never reach for the same port.
      const node: Node = { name, dir, ports: { proxy, control, base: randomBasePort() + (name === 'b' ? 100 : 0) } };
      await writeFile(path.join(dir, 'handover.config.json'), JSON.stringify(stackConfig('v1', node.ports), null, 2));
      nodes.push(node);
    }
    const fleetFile = path.join(fleetDir, 'handover.fleet.json');
    await writeFile(
      fleetFile,
      JSON.stringify({ nodes: nodes.map((n) => ({ name: n.name, control: `http://127.0.0.1:${n.ports.control}`, tokenFile: path.join(n.dir, 'data', 'control-token') })) }),
    );
    for (const node of nodes) node.process = start(['apps/supervisor/bin/handover.mjs', 'start', '--config', path.join(node.dir, 'handover.config.json')], nodeEnv(node));
    // The console lives with node a (its sessions in a's data directory) and drives both.
    adminConsole = start(['apps/admin/scripts/start.mjs'], { ...nodeEnv(nodes[0]!), HANDOVER_ADMIN_PORT: String(adminPort), HANDOVER_FLEET: fleetFile });
    try {
      for (const node of nodes) {
        await waitUntilReady(node.process!, () => answers(`http://127.0.0.1:${node.ports.control}/healthz`), { what: `node ${node.name}`, output: outputs.get(node.process!)!, timeoutMs: 60_000 });
      }
      await waitUntilReady(adminConsole, () => answers(`http://127.0.0.1:${adminPort}/login`), { what: 'the console', output: outputs.get(adminConsole)!, timeoutMs: 60_000 });
    } catch (error) {
      await stopAll();
      throw error;
    }
  });
});

test.afterAll(stopAll);

/** Node a's event log, read with its own token: who did what from the fleet view. */
async function actorsOn(node: Node): Promise<string[]> {
  const token = (await readFile(path.join(node.dir, 'data', 'control-token'), 'utf8')).trim();
  const answer = await fetch(`http://127.0.0.1:${node.ports.control}/trpc/events.list?input=${encodeURIComponent(JSON.stringify({ limit: 200 }))}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const events = ((await answer.json()) as { result: { data: Array<{ actor: string }> } }).result.data;
  return events.map((e) => e.actor);
}

test('the fleet view: both nodes and the total, drain and ready a node, a rolling sync to v2', async ({ page }, testInfo) => {
  const [a, b] = nodes as [Node, Node];
  const base = `http://127.0.0.1:${adminPort}`;
  // A user of node a's app, logged on: one session on a.
  const user: APIRequestContext = await request.newContext({ baseURL: `http://127.0.0.1:${a.ports.proxy}` });
  expect((await user.post('/api/login')).status()).toBe(200);

  await page.goto(`${base}/`);
  await page.getByLabel('User name').fill(ADMIN_USER);
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('nav-fleet').click();
  await expect(page).toHaveURL(`${base}/fleet`);

  for (const node of [a, b]) {
    await expect(page.getByTestId(`node-traffic-${node.name}`)).toHaveText('takes new clients');
    await expect(page.getByTestId(`node-worker-revision-${node.name}-web@0`)).toHaveText('v1');
  }
  await expect(page.getByTestId('node-sessions-a')).toHaveText('1');
  await expect(page.getByTestId('node-sessions-b')).toHaveText('0');
  await expect(page.getByTestId('fleet-total-sessions')).toHaveText('1');
  await expect(page.getByTestId('fleet-totals')).toContainText('across 2 nodes');
  await snap(page, testInfo, 'fleet');

  // Drain node a: confirmed first; with the user's session left it is draining, once she logs off, drained.
  await page.getByTestId('node-drain-a').click();
  await expect(page.getByTestId('node-drain-dialog-a')).toContainText('sends node a no new clients');
  await page.getByTestId('node-drain-confirm-a').click();
  await expect(page.getByTestId('node-traffic-a')).toHaveText('draining');
  await expect(page.getByTestId('node-traffic-b')).toHaveText('takes new clients');
  await expect(page.getByTestId('fleet-totals')).toContainText('1 not taking new clients');
  await snap(page, testInfo, 'node-a-draining');
  expect((await user.post('/api/logout')).status()).toBe(200);
  await expect(page.getByTestId('node-traffic-a')).toHaveText('drained');
  await expect(page.getByTestId('fleet-total-sessions')).toHaveText('0');
  await snap(page, testInfo, 'node-a-drained');
  await page.getByTestId('node-ready-a').click();
  await expect(page.getByTestId('node-traffic-a')).toHaveText('takes new clients');
  expect(await actorsOn(a)).toContain('console:admin (fleet, node a)');
  expect(await actorsOn(b)).not.toContain('console:admin (fleet, node b)');

  // A new release on both nodes, then the rolling sync.
  await setRevision('v2', path.join(a.dir, 'handover.config.json'));
  await setRevision('v2', path.join(b.dir, 'handover.config.json'));
  for (const node of [a, b]) await expect(page.getByTestId(`node-pool-${node.name}-web`)).toContainText('out of sync');
  await page.getByTestId('fleet-sync-start').click();
  await page.getByTestId('fleet-sync-confirm').click();
  const outcome = page.getByTestId('fleet-sync-outcome');
  await expect(outcome).toHaveText('done: upgraded a, b', { timeout: 60_000 });
  const steps = page.getByTestId('fleet-sync-steps').locator('li');
  await expect(steps).toHaveCount(5);
  expect(await steps.evaluateAll((items) => items.map((li) => `${li.getAttribute('data-kind')} ${li.getAttribute('data-node')}`))).toEqual([
    'syncing a',
    'synced a',
    'syncing b',
    'synced b',
    'done ',
  ]);
  await expect(steps.nth(1)).toContainText('node a: web@1 ready on v2');
  await expect(steps.nth(3)).toContainText('node b: web@1 ready on v2');
  for (const node of [a, b]) {
    await expect(page.getByTestId(`node-worker-revision-${node.name}-web@1`)).toHaveText('v2');
    await expect(page.getByTestId(`node-worker-state-${node.name}-web@1`)).toHaveText('started');
    await expect(page.getByTestId(`node-pool-${node.name}-web`)).toContainText('in sync');
    expect(await actorsOn(node)).toContain(`console:admin (fleet, node ${node.name})`);
  }
  await snap(page, testInfo, 'rolling-sync-done');

  // The run lives on the server: a fresh page shows it.
  await page.reload();
  await expect(page.getByTestId('fleet-sync-outcome')).toHaveText('done: upgraded a, b');

  // It fits a phone.
  await page.setViewportSize({ width: 375, height: 800 });
  await expect(page.getByTestId('fleet-node-b')).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await snap(page, testInfo, 'fleet-narrow');
  await user.dispose();
});
