import { readFile, writeFile } from 'node:fs/promises';
import { type APIRequestContext, type Page, expect, test } from '@playwright/test';
import { attachedWorker, editPool, logIn, readConfig, setRevision, snap } from './support/console';
import { APP_URL, CONFIG_PATH, CONTROL_TOKEN, PORTS } from './support/stack';

/**
 * Issue #10, "The operator": what a new operator saw go wrong in the console, each as a story
 * that failed on the console before. They run in order on the shared stack after console.spec
 * and start from whatever worker is attached; each leaves the configuration file's command and
 * environment as it found them.
 */

let original: { command: unknown; env: unknown };

test.beforeAll(async () => {
  const pool = (await readConfig()).pools[0]!;
  original = { command: pool.command, env: pool.env };
});

test.afterEach(async () => {
  await editPool((pool) => {
    pool.command = original.command;
    if (original.env === undefined) delete pool.env;
    else pool.env = original.env;
  });
});

/** The control API, as a script would call it (the earlier stories leave users logged on). */
async function api<T>(request: APIRequestContext, procedure: string, input?: object, mutation = false): Promise<T> {
  const url = `http://127.0.0.1:${PORTS.control}/trpc/${procedure}`;
  const headers = { authorization: `Bearer ${CONTROL_TOKEN}`, 'x-handover-actor': 'e2e-setup' };
  const answer = mutation
    ? await request.post(url, { headers, data: input ?? {} })
    : await request.get(input === undefined ? url : `${url}?input=${encodeURIComponent(JSON.stringify(input))}`, { headers });
  expect(answer.ok(), await answer.text()).toBe(true);
  return ((await answer.json()) as { result: { data: T } }).result.data;
}

/**
 * Starts the story from an attached worker with nobody on it: one left with users by an earlier
 * story is replaced (detach and sync) and stopped at once.
 */
async function withEmptyWorker(request: APIRequestContext): Promise<void> {
  const workers = await api<Array<{ id: string; state: string; attached: boolean; sessions: number; inFlight: number; webSockets: number }>>(request, 'workers.list');
  const current = workers.find((w) => w.state === 'started' && w.attached);
  if (current === undefined || current.sessions + current.inFlight + current.webSockets === 0) return;
  await api(request, 'workers.detachAndSync', { worker: current.id }, true);
  await api(request, 'workers.stopNow', { worker: current.id }, true);
}

/** The id the pool's next worker gets: generations only grow, failed ones count too. */
async function nextId(page: Page): Promise<string> {
  await expect(page.locator('[data-testid^="worker-row-"]').first()).toBeAttached();
  const ids = await page.locator('[data-testid^="worker-row-"]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-testid')!.replace('worker-row-', '')));
  const newest = Math.max(...ids.map((id) => Number(id.split('@')[1])));
  return `web@${newest + 1}`;
}

async function detachAndSync(page: Page, worker: string): Promise<void> {
  await page.getByRole('button', { name: `Detach and sync ${worker}` }).click();
  await page.getByRole('dialog', { name: `Detach ${worker} and sync?` }).getByRole('button', { name: 'Detach and sync' }).click();
}

test('while the successor starts, the console names it and counts only ready workers; its message goes with the drain (items 1, 3)', async ({ page, request }, testInfo) => {
  await withEmptyWorker(request);
  await logIn(page);
  const current = await attachedWorker(page);
  const successor = await nextId(page);
  // A release that takes a few seconds to start.
  await editPool((pool) => {
    pool.env = { ...(pool.env as object), DEMO_START_DELAY_MS: '8000' };
  });

  await detachAndSync(page, current);
  await expect(page.getByTestId(`worker-state-${successor}`)).toHaveText('starting');
  // Before: "Starting web@N+2…" once web@N+1 showed up, and "2 / 1 wanted".
  await expect(page.getByTestId(`feedback-${current}`)).toHaveText(`Starting ${successor}… ${current} stays attached until it is ready.`);
  await expect(page.getByTestId('pool-attached-web')).toHaveText(`1 / 1 wanted · ${successor} starting`);
  await snap(page, testInfo, 'successor-starting');

  await expect(page.getByTestId(`worker-state-${successor}`)).toHaveText('started', { timeout: 30_000 });
  await expect(page.getByTestId('pool-attached-web')).toHaveText('1 / 1 wanted');
  // With no session left, the old worker stops at once: it is not "draining" any more.
  await expect(page.getByTestId(`worker-state-${current}`)).toHaveText('stopped');
  await expect(page.getByTestId(`feedback-${current}`)).not.toContainText('draining');
  await expect(page.getByTestId(`feedback-${current}`)).toHaveText('');
  await snap(page, testInfo, 'successor-ready-old-stopped');
});

test('a failed successor: one line in its row, the output in "Why … failed", the pool says so, and the message goes when it is no longer true (items 1, 2, 10)', async ({ page }, testInfo) => {
  await logIn(page);
  const current = await attachedWorker(page);
  const failed = await nextId(page);
  // A release that throws at start with a long stack trace (27 frames).
  await editPool((pool) => {
    pool.command = `node -e "Error.stackTraceLimit = 50; function start(n) { if (n === 0) throw new Error('release is broken'); start(n - 1); } start(25)"`;
  });

  await detachAndSync(page, current);
  const feedback = page.getByTestId(`feedback-${current}`);
  await expect(feedback).toContainText(`${failed}`, { timeout: 30_000 });
  await expect(feedback).toContainText(`failed to start, so ${current} stays attached and keeps serving.`);
  await expect(feedback).toContainText(`See “Why ${failed} failed to start” below.`);
  await expect(feedback).not.toContainText('at start');
  // Before: the whole stack trace in the Actions column, a row ~500 px tall.
  const row = await page.getByTestId(`worker-row-${current}`).boundingBox();
  expect(row!.height).toBeLessThan(90);
  const why = page.getByTestId(`why-${failed}`);
  await expect(why).toBeVisible();
  await expect(why).toContainText(`Why ${failed} failed to start`);
  // Before: the pool stayed "ok" after a failed deploy.
  await expect(page.getByTestId('pool-status-web')).toContainText('deploy failed');
  await snap(page, testInfo, 'failed-successor');
  await why.locator('summary').click();
  await expect(why.locator('pre')).toContainText('at start (');
  await expect(why.locator('pre')).not.toContainText('\x1b[');
  await snap(page, testInfo, 'failed-successor-why-open');

  // The release is fixed; the next Detach and sync works and the old message is no longer true.
  await editPool((pool) => {
    pool.command = original.command;
  });
  const next = await nextId(page);
  await detachAndSync(page, current);
  await expect(page.getByTestId(`worker-state-${next}`)).toHaveText('started', { timeout: 30_000 });
  await expect(page.getByTestId(`worker-state-${current}`)).toHaveText('stopped');
  await expect(feedback).not.toContainText('stays attached');
  await expect(page.getByTestId('pool-status-web')).not.toContainText('deploy failed');
  await snap(page, testInfo, 'fixed-release-deployed');
});

test('an edited configuration shows as drift with what Sync would change, before any sync (item 4)', async ({ page }, testInfo) => {
  await logIn(page);
  const current = await attachedWorker(page);
  const running = (await page.getByTestId(`worker-revision-${current}`).textContent())!;
  const successor = await nextId(page);
  await setRevision('v7');

  // Before: the old revision until a sync, and "ok".
  await expect(page.getByTestId('pool-revision-web')).toHaveText('v7');
  await expect(page.getByTestId('pool-status-web')).toContainText(`out of sync · running ${running}, file says v7`);
  await expect(page.getByTestId('drift-preview-web')).toContainText(`revision ${running} → v7 (${current} runs ${running})`);
  await snap(page, testInfo, 'drift-after-edit');

  await page.getByRole('button', { name: 'Sync pool web' }).click();
  const dialog = page.getByRole('dialog', { name: 'Sync pool web?' });
  await expect(dialog.getByTestId('sync-plan')).toContainText('starts 1 worker on revision v7');
  await expect(dialog.getByTestId('sync-plan')).toContainText(`detaches ${current} once its successor is ready`);
  await snap(page, testInfo, 'sync-plan');
  await dialog.getByRole('button', { name: 'Sync web' }).click();

  await expect(page.getByTestId(`worker-state-${successor}`)).toHaveText('started', { timeout: 30_000 });
  await expect(page.getByTestId(`worker-revision-${successor}`)).toHaveText('v7');
  await expect(page.getByTestId('toasts')).toContainText(`started ${successor} (revision v7)`);
  await expect(page.getByTestId('pool-status-web')).toHaveText('ok');
  await expect(page.getByTestId('drift-preview-web')).toHaveCount(0);
  await snap(page, testInfo, 'synced');
});

test('Reattach asks first, says the newer worker stops at once, and the rollback shows as drift (items 4, 8)', async ({ page, browser }, testInfo) => {
  await logIn(page);
  const old = await attachedWorker(page);
  const oldRevision = (await page.getByTestId(`worker-revision-${old}`).textContent())!;
  const successor = await nextId(page);

  // A user keeps the old worker alive while detached.
  const user = await browser.newContext();
  const app = await user.newPage();
  await app.goto(APP_URL);
  await app.getByTestId('login-button').click();
  await expect(app.getByTestId('worker')).toHaveText(old);

  await setRevision('v8');
  await detachAndSync(page, old);
  await expect(page.getByTestId(`worker-state-${successor}`)).toHaveText('started', { timeout: 30_000 });
  await expect(page.getByTestId(`worker-state-${old}`)).toHaveText('detached');

  // Before: one click rolled back at once.
  await page.getByRole('button', { name: `Reattach ${old}` }).click();
  const dialog = page.getByRole('dialog', { name: `Reattach ${old} and roll back to ${oldRevision}?` });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId(`reattach-detaches-${successor}`)).toContainText(`${successor} (revision v8) is detached now`);
  await expect(dialog.getByTestId(`reattach-detaches-${successor}`)).toContainText('It has no sessions, so it stops at once.');
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await snap(page, testInfo, 'reattach-dialog');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId(`worker-state-${old}`)).toHaveText('detached');
  await expect(page.getByTestId(`worker-state-${successor}`)).toHaveText('started');

  await page.getByRole('button', { name: `Reattach ${old}` }).click();
  await dialog.getByRole('button', { name: `Reattach ${old}` }).click();
  await expect(page.getByTestId(`worker-state-${old}`)).toHaveText('started');
  await expect(page.getByTestId(`worker-state-${successor}`)).toHaveText('stopped');
  await expect(page.getByTestId(`feedback-${old}`)).toHaveText(`${old} takes new sessions again.`);
  // Before: "configured v8, running v7, ok".
  await expect(page.getByTestId('pool-status-web')).toContainText(`out of sync · running ${oldRevision}, file says v8`);
  await snap(page, testInfo, 'rolled-back-drift');

  // The operator puts the file back to the rolled-back revision: no drift.
  await setRevision(oldRevision);
  await expect(page.getByTestId('pool-status-web')).toHaveText('ok');
  await app.getByTestId('logout-button').click();
  await expect(page.getByTestId(`worker-sessions-${old}`)).toHaveText('0');
  await user.close();
});

test('the drain card: deadline, expected end, the sessions left, and Stop now with a confirmation; the chart drops the line to 0 (items 5, 7)', async ({ page, browser, request }, testInfo) => {
  await withEmptyWorker(request);
  await logIn(page);
  const old = await attachedWorker(page);
  const successor = await nextId(page);
  const user = await browser.newContext();
  const app = await user.newPage();
  await app.goto(APP_URL);
  await app.getByTestId('login-button').click();
  await expect(app.getByTestId('worker')).toHaveText(old);
  await expect(page.getByTestId(`worker-sessions-${old}`)).toHaveText('1');

  await detachAndSync(page, old);
  await expect(page.getByTestId(`worker-state-${old}`)).toHaveText('detached', { timeout: 30_000 });
  const card = page.getByTestId(`drain-${old}`);
  await expect(card.getByTestId(`drain-deadline-${old}`)).toContainText(/in (23h|1d 0h)/);
  // Before: a count only.
  await expect(card.getByTestId(`drain-eta-${old}`)).toContainText('when the last idle session expires');
  const sessions = card.getByTestId(`drain-sessions-${old}`);
  await expect(sessions.locator('tbody tr')).toHaveCount(1);
  await expect(sessions.locator('tbody tr code')).toHaveText(/^[A-Za-z0-9_-]{6}…$/);
  await expect(sessions.locator('tbody tr')).toContainText('just now');
  await snap(page, testInfo, 'drain-card');
  // The same card on a phone.
  await page.setViewportSize({ width: 375, height: 800 });
  await card.screenshot({ path: testInfo.outputPath('drain-card-narrow.png') });
  await page.setViewportSize({ width: 1280, height: 900 });

  // The chart: ready and detach markers, and a tooltip with every worker's count.
  const chart = page.getByTestId('sessions-chart');
  await expect(chart.getByTestId('chart-marker').filter({ hasText: `${successor} ready` })).toHaveCount(1);
  await expect(chart.getByTestId('chart-marker').filter({ hasText: `${old} detached` }).last()).toBeAttached();
  const plot = chart.locator('.u-over');
  await plot.scrollIntoViewIfNeeded();
  const box = (await plot.boundingBox())!;
  await plot.hover({ position: { x: box.width - 4, y: box.height / 2 } });
  await expect(chart.getByTestId('chart-tooltip')).toBeVisible();
  await expect(chart.getByTestId('chart-tooltip')).toContainText(`${old} 1`);
  await snap(page, testInfo, 'chart-tooltip');
  await page.mouse.move(0, 0);

  await card.getByRole('button', { name: `Stop ${old} now` }).click();
  const dialog = page.getByRole('dialog', { name: `Stop ${old} now?` });
  await expect(dialog).toContainText('1 session on it is lost');
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await snap(page, testInfo, 'stop-now-dialog');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByTestId(`worker-state-${old}`)).toHaveText('detached');

  await card.getByRole('button', { name: `Stop ${old} now` }).click();
  await dialog.getByRole('button', { name: `Stop ${old} now` }).click();
  await expect(page.getByTestId(`worker-state-${old}`)).toHaveText('stopped', { timeout: 30_000 });
  await expect(page.locator('[data-testid="event"][data-type="sessions.lost"]').first()).toContainText(old);
  // Before: the line stopped at 1, as if the session were still there; now it drops to 0.
  await expect(chart.getByTestId(`chart-legend-${old}`)).toContainText(`${old} 0 (ended)`);
  await expect(chart.getByTestId('chart-summary')).toContainText(`${old}: 0 (ended)`);
  await snap(page, testInfo, 'stopped-now');
  await user.close();
});

test('events filter by worker, type and actor, and export as JSON lines (item 9)', async ({ page }, testInfo) => {
  await logIn(page);
  const current = await attachedWorker(page);
  await expect(page.getByTestId('event').first()).toBeVisible();
  await page.getByTestId('events-filter-worker').selectOption(current);
  await expect(page.getByTestId('events-count')).toContainText('of the newest');
  const shown = page.getByTestId('event');
  await expect(shown.first()).toBeVisible();
  expect(new Set(await shown.evaluateAll((items) => items.map((item) => item.getAttribute('data-worker'))))).toEqual(new Set([current]));
  await page.getByTestId('events-filter-type').selectOption('worker.started');
  await expect(shown).toHaveCount(1);
  await expect(shown.first()).toContainText(`${current} is ready`);
  await snap(page, testInfo, 'events-filtered');

  const href = (await page.getByTestId('events-export').getAttribute('href'))!;
  expect(href).toContain(`worker=${encodeURIComponent(current)}`);
  const answer = await page.request.get(href);
  expect(answer.status()).toBe(200);
  expect(answer.headers()['content-disposition']).toContain('attachment');
  const lines = (await answer.text()).trim().split('\n').map((line) => JSON.parse(line) as { worker: string; type: string });
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ worker: current, type: 'worker.started' });
});

test('a refused configuration file shows on the pool until it is fixed (item 10)', async ({ page }, testInfo) => {
  await logIn(page);
  await attachedWorker(page);
  const good = await readFile(CONFIG_PATH, 'utf8');
  try {
    // An operator saves the file half-edited.
    await writeFile(CONFIG_PATH, good.replace(/}\s*$/, ',\n'));
    // Before: "ok", and "configuration was not applied" only after a Sync, until a reload.
    await expect(page.getByTestId('pool-status-web')).toContainText('config rejected', { timeout: 30_000 });
    await expect(page.getByTestId('pool-config-rejected-web')).toContainText('The configuration file is refused');
    await snap(page, testInfo, 'config-rejected');
  } finally {
    await writeFile(CONFIG_PATH, good);
  }
  await expect(page.getByTestId('pool-status-web')).toHaveText('ok', { timeout: 30_000 });
  await expect(page.getByTestId('pool-config-rejected-web')).toHaveCount(0);
});

test('live workers first, ended ones folded (item 6)', async ({ page }, testInfo) => {
  await logIn(page);
  const current = await attachedWorker(page);
  const rows = page.locator('[data-testid^="worker-row-"]:visible');
  await expect(rows.first()).toHaveAttribute('data-testid', `worker-row-${current}`);
  const toggle = page.getByTestId('ended-toggle-web');
  await expect(toggle).toContainText(/\d+ ended workers/);
  await expect(page.locator('[data-testid^="worker-row-"][data-state="stopped"]:visible')).toHaveCount(0);
  await snap(page, testInfo, 'ended-folded');
  await toggle.click();
  await expect(page.locator('[data-testid^="worker-row-"][data-state="stopped"]:visible').first()).toBeVisible();
  await snap(page, testInfo, 'ended-unfolded');

  // Everything #10 added still fits a phone.
  await page.setViewportSize({ width: 375, height: 800 });
  await expect(toggle).toBeVisible();
  const wider = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    return [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > width + 0.5 && el.getClientRects().length > 0)
      .filter((el) => ![...el.children].some((child) => child.getBoundingClientRect().right > width + 0.5))
      .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}[${el.getAttribute('data-testid') ?? ''}] right=${Math.round(el.getBoundingClientRect().right)}`);
  });
  expect(wider).toEqual([]);
  await snap(page, testInfo, 'narrow-after-operator-stories');
});

test('this node: Drain node (confirmed) turns the front away, drained once nobody is left, Ready puts it back (#11)', async ({ page, request }, testInfo) => {
  // Nobody on the node: the attached worker emptied, any detached one still holding users stopped.
  await withEmptyWorker(request);
  const workers = await api<Array<{ id: string; state: string }>>(request, 'workers.list');
  for (const w of workers.filter((w) => w.state === 'detached')) await api(request, 'workers.stopNow', { worker: w.id }, true);
  const nodeHealth = async () => (await request.get(`http://127.0.0.1:${PORTS.control}/node-health`)).status();

  await logIn(page);
  const panel = page.getByTestId('node-panel');
  await expect(panel.getByTestId('node-traffic')).toHaveText('Takes new clients');
  expect(await nodeHealth()).toBe(200);
  await panel.getByTestId('node-drain-local').click();
  const dialog = page.getByRole('dialog', { name: 'Drain this node?' });
  await expect(dialog).toContainText('sends this node no new clients');
  await dialog.getByTestId('node-drain-confirm-local').click();
  await expect(panel.getByTestId('node-traffic')).toHaveText('Drained: nothing left on this node, it can be taken down');
  await expect(panel).toContainText('by console:admin');
  // What HAProxy's check sees (http-check disable-on-404).
  expect(await nodeHealth()).toBe(404);
  await snap(page, testInfo, 'node-drained');

  await panel.getByTestId('node-ready-local').click();
  await expect(panel.getByTestId('node-traffic')).toHaveText('Takes new clients');
  expect(await nodeHealth()).toBe(200);
  await expect(page.locator('[data-testid="event"][data-type="node.ready"]').first()).toBeVisible();
});
