import { expect, test } from '@playwright/test';
import { logIn } from './support/console';
import { CONSOLE_URL } from './support/stack';

/**
 * The console's pages carry a strict Content-Security-Policy with a fresh nonce, and the page
 * still works under it: the browser reports no blocked script or style.
 */
test('pages run under a nonce-based Content-Security-Policy without violations', async ({ page }) => {
  // Injected by the browser driver, so the policy does not apply to it; it records what the
  // policy blocks on the page itself.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      const seen = ((window as unknown as { cspViolations?: string[] }).cspViolations ??= []);
      seen.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  const violations = () => page.evaluate(() => (window as unknown as { cspViolations?: string[] }).cspViolations ?? []);

  const login = await page.goto(`${CONSOLE_URL}/login`);
  const loginPolicy = login!.headers()['content-security-policy'] ?? '';
  expect(loginPolicy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
  expect(loginPolicy).toContain("frame-ancestors 'none'");

  await logIn(page);
  await expect(page.getByTestId('live-indicator')).toHaveText('Live');
  expect(await violations()).toEqual([]);
  const dashboard = await page.request.get(`${CONSOLE_URL}/`);
  const dashboardPolicy = dashboard.headers()['content-security-policy'] ?? '';
  expect(dashboardPolicy).toMatch(/nonce-/);
  // A fresh nonce per response.
  expect(dashboardPolicy.match(/nonce-([^']+)/)?.[1]).not.toBe(loginPolicy.match(/nonce-([^']+)/)?.[1]);
});

test('the console API refuses a mutation from another origin even with the login cookie', async ({ page }) => {
  await logIn(page);
  await expect(page).toHaveURL(`${CONSOLE_URL}/`);
  // The same call from the console's own origin goes through.
  const own = await page.request.post(`${CONSOLE_URL}/api/trpc/pools.sync`, {
    headers: { origin: CONSOLE_URL, 'content-type': 'application/json' },
    data: {},
  });
  expect(own.status()).toBe(200);
  const response = await page.request.post(`${CONSOLE_URL}/api/trpc/pools.sync`, {
    headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
    data: {},
  });
  expect(response.status()).toBe(403);
  expect(await response.text()).toContain('cross-site');
});

test('the login cookie is HttpOnly and SameSite=Strict, and pages are not sniffed or framed', async ({ page, context }) => {
  await logIn(page);
  await expect(page).toHaveURL(`${CONSOLE_URL}/`);
  const cookie = (await context.cookies(CONSOLE_URL)).find((c) => c.name === 'handover_console');
  expect(cookie).toBeDefined();
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
  // Plain http on loopback: Secure would make the browser drop it (set only behind TLS).
  expect(cookie!.secure).toBe(false);
  expect(await page.evaluate(() => document.cookie)).not.toContain('handover_console');

  const response = await page.request.get(`${CONSOLE_URL}/`);
  expect(response.headers()['x-content-type-options']).toBe('nosniff');
  expect(response.headers()['x-frame-options']).toBe('DENY');
  expect(response.headers()['referrer-policy']).toBe('same-origin');
});
