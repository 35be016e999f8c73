import { expect, test } from '@playwright/test';
import { attachedWorker, logIn, nextOf, setRevision, snap } from './support/console';
import { APP_URL, CONSOLE_URL } from './support/stack';

/**
 * The operator's story, in a real browser against the real stack. The specs run in order on
 * one supervisor: the first one starts from web@0 on v1; the later ones work from whatever
 * worker is attached when they begin.
 */

test('an operator upgrades the demo app without logging anyone out', async ({ page, browser }, testInfo) => {
  await test.step('log in and see web@0 started', async () => {
    await logIn(page);
    await expect(page).toHaveURL(`${CONSOLE_URL}/`);
    await expect(page.getByTestId('worker-state-web@0')).toHaveText('started');
    await expect(page.getByTestId('worker-revision-web@0')).toHaveText('v1');
    await expect(page.getByTestId('live-indicator')).toHaveText('Live');
    await snap(page, testInfo, 'dashboard-web0-started');
  });

  // A user of the application, in a browser of their own.
  const userContext = await browser.newContext();
  const app = await userContext.newPage();

  await test.step('a user logs on to the demo app; the console shows the session within a second', async () => {
    await app.goto(APP_URL);
    await expect(app.getByTestId('worker')).toHaveText('web@0');
    await app.getByTestId('login-button').click();
    await expect(app.getByTestId('counter')).toHaveText('0');
    // Pushed over server-sent events, not polled: it must show up within a second.
    await expect(page.getByTestId('worker-sessions-web@0')).toHaveText('1', { timeout: 1000 });
    await app.getByTestId('count-button').click();
    await expect(app.getByTestId('counter')).toHaveText('1');
    await app.getByTestId('count-button').click();
    await expect(app.getByTestId('counter')).toHaveText('2');
    await snap(page, testInfo, 'dashboard-one-session');
  });

  await test.step('release v2: Detach and sync web@0', async () => {
    await setRevision('v2');
    await page.getByRole('button', { name: 'Detach and sync web@0' }).click();
    const dialog = page.getByRole('dialog', { name: 'Detach web@0 and sync?' });
    await expect(dialog).toBeVisible();
    await expect(dialog).toContainText('web@0 keeps serving its 1 session but takes no new ones');
    await expect(dialog).toContainText('web@1');
    await expect(dialog).toContainText('web@0 stops by itself when its last session ends');
    // Focus starts on Cancel, the safe choice.
    await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await snap(page, testInfo, 'detach-dialog');
    await dialog.getByRole('button', { name: 'Detach and sync' }).click();
    await expect(dialog).toBeHidden();

    await expect(page.getByTestId('worker-state-web@0')).toHaveText('detached');
    await expect(page.getByTestId('worker-state-web@1')).toHaveText('started');
    await expect(page.getByTestId('worker-revision-web@1')).toHaveText('v2');
    await expect(page.getByTestId('feedback-web@0')).toContainText('web@1 started on revision v2');
    await expect(page.getByTestId('drain-left-web@0')).toHaveText('1 session');
    // The drain's deadline (drain.maxSeconds, a day by default) is shown with it.
    await expect(page.getByTestId('drain-deadline-web@0')).toContainText(/in (23h|1d 0h)/);
    await expect(page.getByTestId('events')).toContainText('detach and sync web@0');
    await expect(page.getByTestId('events')).toContainText('console:admin');
    await snap(page, testInfo, 'dashboard-web0-detached-web1-started');
  });

  await test.step('the user stays on web@0 (v1) with their counter', async () => {
    await app.reload();
    await expect(app.getByTestId('worker')).toHaveText('web@0');
    await expect(app.getByTestId('revision')).toHaveText('v1');
    await expect(app.getByTestId('counter')).toHaveText('2');
  });

  await test.step('the user logs off and on again and lands on web@1 (v2)', async () => {
    await app.getByTestId('logout-button').click();
    await expect(app.getByTestId('login-button')).toBeVisible();
    await expect(app.getByTestId('worker')).toHaveText('web@1');
    await app.getByTestId('login-button').click();
    await expect(app.getByTestId('worker')).toHaveText('web@1');
    await expect(app.getByTestId('revision')).toHaveText('v2');
    await expect(app.getByTestId('counter')).toHaveText('0');
  });

  await test.step('web@0 stopped by itself; the console says so', async () => {
    await expect(page.getByTestId('worker-state-web@0')).toHaveText('stopped');
    await expect(page.getByTestId('worker-sessions-web@1')).toHaveText('1');
    await expect(page.locator('[data-testid="event"][data-type="worker.drained"]').first()).toContainText('web@0');
    await snap(page, testInfo, 'dashboard-web0-stopped');
  });

  await test.step('the worker logs open in a dialog', async () => {
    await page.getByRole('button', { name: 'Logs of web@1' }).click();
    const logs = page.getByRole('dialog', { name: 'Output of web@1' });
    await expect(logs).toBeVisible();
    await expect(logs.getByRole('log')).toBeVisible();
    await snap(page, testInfo, 'logs-dialog');
    await page.keyboard.press('Escape');
    await expect(logs).toBeHidden();
    await expect(page.getByRole('button', { name: 'Logs of web@1' })).toBeFocused();
  });

  await userContext.close();
});

test('a wrong password is refused, and the API needs a login', async ({ page, request }, testInfo) => {
  await logIn(page, 'not-the-password');
  await expect(page.getByTestId('login-error')).toHaveText('Wrong user name or password.');
  await expect(page).toHaveURL(/\/login/);
  await snap(page, testInfo, 'login-refused');

  const api = await request.get(`${CONSOLE_URL}/api/trpc/workers.list`);
  expect(api.status()).toBe(401);
  expect(await api.json()).toMatchObject({ error: { data: { code: 'UNAUTHORIZED' } } });

  // The dashboard itself sends a stranger to the login page.
  const stranger = await request.get(`${CONSOLE_URL}/`, { maxRedirects: 0 });
  expect(stranger.status()).toBe(303);
  expect(stranger.headers().location).toContain('/login');
});

test('Reattach rolls back to the detached worker and detaches the newer one', async ({ page, browser }, testInfo) => {
  await logIn(page);
  const old = await attachedWorker(page);
  const successor = nextOf(old);

  // One user on the old worker keeps it alive while detached…
  const first = await browser.newContext();
  const firstPage = await first.newPage();
  await firstPage.goto(APP_URL);
  await firstPage.getByTestId('login-button').click();
  await expect(firstPage.getByTestId('worker')).toHaveText(old);

  await page.getByRole('button', { name: `Detach and sync ${old}` }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Detach and sync' }).click();
  await expect(page.getByTestId(`worker-state-${old}`)).toHaveText('detached');
  await expect(page.getByTestId(`worker-state-${successor}`)).toHaveText('started');

  // …and one on the successor keeps it alive once it is detached in turn.
  const second = await browser.newContext();
  const secondPage = await second.newPage();
  await secondPage.goto(APP_URL);
  await secondPage.getByTestId('login-button').click();
  await expect(secondPage.getByTestId('worker')).toHaveText(successor);
  await expect(page.getByTestId(`worker-sessions-${successor}`)).toHaveText('1');
  await snap(page, testInfo, 'before-reattach');

  await page.getByRole('button', { name: `Reattach ${old}` }).click();
  // A rollback is confirmed like Detach and sync (#10): it says what happens to the newer worker.
  const dialog = page.getByRole('dialog', { name: new RegExp(`^Reattach ${old} and roll back`) });
  await expect(dialog).toContainText(`${successor}`);
  await dialog.getByRole('button', { name: `Reattach ${old}` }).click();
  await expect(page.getByTestId(`worker-state-${old}`)).toHaveText('started');
  await expect(page.getByTestId(`worker-state-${successor}`)).toHaveText('detached');
  await expect(page.getByTestId(`feedback-${old}`)).toContainText(`${old} takes new sessions again`);
  await expect(page.getByTestId('events')).toContainText(`reattach ${old}`);
  await snap(page, testInfo, 'after-reattach');

  // New sessions go to the reattached worker again.
  const third = await browser.newContext();
  const thirdPage = await third.newPage();
  await thirdPage.goto(APP_URL);
  await expect(thirdPage.getByTestId('worker')).toHaveText(old);

  await Promise.all([first.close(), second.close(), third.close()]);
});

test('a failed action shows the API’s error next to its button', async ({ page }, testInfo) => {
  await logIn(page);
  const current = await attachedWorker(page);
  // The dashboard only offers possible actions, so provoke a conflict from the API itself:
  // a second Detach and sync of the same worker while the first is still starting.
  await page.route('**/api/trpc/workers.detachAndSync*', async (route) => {
    await route.fulfill({
      status: 409,
      contentType: 'application/json',
      body: JSON.stringify({
        error: {
          message: `${current} is busy: another operation is running on pool web`,
          code: -32009,
          data: { code: 'CONFLICT', httpStatus: 409, path: 'workers.detachAndSync' },
        },
      }),
    });
  });
  await page.getByRole('button', { name: `Detach and sync ${current}` }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Detach and sync' }).click();
  await expect(page.getByTestId(`feedback-${current}`)).toHaveText(`${current} is busy: another operation is running on pool web`);
  await expect(page.getByTestId(`worker-state-${current}`)).toHaveText('started');
  await snap(page, testInfo, 'action-error');
});

test('the dashboard fits a 375 px wide window', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 375, height: 800 });
  await logIn(page);
  await expect(page.locator('[data-testid^="worker-row-"]').first()).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await snap(page, testInfo, 'narrow');
});
