import { type Page, type Response, expect, test } from '@playwright/test';
import { logIn } from './support/console';
import { type ExtraConsole, startExtraConsole } from './support/extra-console';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ADMIN_PASSWORD, ADMIN_USER, CONSOLE_URL, CONTROL_TOKEN, DATA_DIR } from './support/stack';
import { findSecrets, secretForms } from './secret-scan';

const COOKIE = 'handover_console';

/**
 * Submits the login form of the page (already on /login) and returns the server action's
 * answer once the form shows its outcome. Any user name: the throttle tests use their own, so
 * the lockouts they cause never touch the `admin` logins of the other tests.
 */
async function submitLogin(page: Page, user: string, password: string): Promise<Response> {
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login'),
    page.getByRole('button', { name: 'Log in' }).click(),
  ]);
  return response;
}

/** Submits a wrong password and returns the error the form shows for it. */
async function failLogin(page: Page, user: string): Promise<string> {
  await submitLogin(page, user, 'not-the-password');
  await expect(page.getByRole('button', { name: 'Log in' })).toBeEnabled();
  return (await page.getByTestId('login-error').textContent()) ?? '';
}

/** The attributes of our cookie in a response's Set-Cookie lines, lower-cased; null when not set. */
async function sessionCookieAttributes(response: Response): Promise<string[] | null> {
  const lines = (await response.headersArray()).filter((h) => h.name.toLowerCase() === 'set-cookie').map((h) => h.value);
  const ours = lines.flatMap((line) => line.split('\n')).find((line) => line.startsWith(`${COOKIE}=`) && !line.startsWith(`${COOKIE}=;`));
  if (ours === undefined) return null;
  return ours.split(';').slice(1).map((part) => part.trim().toLowerCase());
}

const probeUser = (label: string) => `${label}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;

/**
 * The console's pages carry a strict Content-Security-Policy with a fresh nonce, the page runs
 * under it without a violation, and the policy really blocks: markup injected into the page
 * cannot run script (an inline event handler is refused and reported), while the same event
 * reaches a listener added by the page's own code.
 *
 * (With 'strict-dynamic', a <script> element created by script that already runs is allowed, in
 * Chromium even inline and without the nonce: that is what lets Next's nonce'd bootstrap load
 * its chunks. The policy stops injected markup, not code that already runs.)
 */
test('pages run under a nonce-based Content-Security-Policy that blocks and reports injected inline script', async ({ page }) => {
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
  // Next put the nonce on the page's own scripts (that is why they ran).
  expect(await page.evaluate(() => document.querySelectorAll<HTMLScriptElement>('script[nonce]').length)).toBeGreaterThan(0);

  // Markup an attacker got into the page: an image that fails to load, with an inline handler.
  // The page's own listener for the same event is the control: the event does happen.
  await page.evaluate(() => {
    const box = document.createElement('div');
    box.innerHTML = '<img id="csp-probe" alt="" src="data:image/png;base64,AAAA" onerror="window.cspInjectedRan = true">';
    box.querySelector('img')!.addEventListener('error', () => {
      (window as unknown as { cspErrorSeen?: boolean }).cspErrorSeen = true;
    });
    document.body.appendChild(box);
  });
  await expect.poll(() => page.evaluate(() => (window as unknown as { cspErrorSeen?: boolean }).cspErrorSeen === true)).toBe(true);
  await expect.poll(violations).toHaveLength(1);
  expect(await violations()).toEqual([expect.stringMatching(/^script-src(-attr)? inline$/)]);
  expect(await page.evaluate(() => (window as unknown as { cspInjectedRan?: boolean }).cspInjectedRan)).toBeUndefined();
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
  // Naming its own origin in X-Forwarded-Host does not help: no proxy is trusted here.
  const forgedHost = await page.request.post(`${CONSOLE_URL}/api/trpc/pools.sync`, {
    headers: { origin: 'https://evil.example', 'x-forwarded-host': 'evil.example', 'content-type': 'application/json' },
    data: {},
  });
  expect(forgedHost.status()).toBe(403);
});

test('the login cookie is HttpOnly and SameSite=Strict, and pages are not sniffed or framed', async ({ page, context }) => {
  await logIn(page);
  await expect(page).toHaveURL(`${CONSOLE_URL}/`);
  const cookie = (await context.cookies(CONSOLE_URL)).find((c) => c.name === COOKIE);
  expect(cookie).toBeDefined();
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
  // Plain http on loopback: Secure would make the browser drop it (set only behind TLS).
  expect(cookie!.secure).toBe(false);
  // An absolute expiry, 12 h after the login (never extended).
  const hoursLeft = (cookie!.expires * 1000 - Date.now()) / 3_600_000;
  expect(hoursLeft).toBeGreaterThan(11.9);
  expect(hoursLeft).toBeLessThanOrEqual(12);
  expect(await page.evaluate(() => document.cookie)).not.toContain(COOKIE);

  const response = await page.request.get(`${CONSOLE_URL}/`);
  expect(response.headers()['x-content-type-options']).toBe('nosniff');
  expect(response.headers()['x-frame-options']).toBe('DENY');
  expect(response.headers()['referrer-policy']).toBe('same-origin');
});

/**
 * No secret reaches the browser: everything the console sends while an operator logs in, watches
 * the dashboard and opens a worker's logs — every page, script chunk and API answer, every
 * response's headers, and the bytes of the event streams it keeps open — is searched for the
 * control token, the admin password and the keys in the data directory, as they are and encoded
 * (base64, base64url, percent-encoding, hex, JSON escapes: see secret-scan.ts).
 */
test('no secret reaches the browser: not in any page, script, API answer, header or event stream, encoded or not', async ({ page }) => {
  const responses: Array<Promise<{ url: string; headers: string | null; body: string | null }>> = [];
  page.on('response', (response) => {
    // An event stream never ends, so its body never resolves: its bytes come from CDP below.
    const stream = (response.headers()['content-type'] ?? '').includes('text/event-stream');
    responses.push(
      Promise.all([
        response
          .headersArray()
          .then((headers) => headers.map((h) => `${h.name}: ${h.value}`).join('\n'))
          .catch(() => null),
        stream
          ? null
          : response
              .body()
              .then((body) => body.toString('latin1'))
              .catch(() => null), // a redirect or an aborted request has no body
      ]).then(([headers, body]) => ({ url: response.url(), headers, body })),
    );
  });
  // The event streams' bytes as the browser's network layer receives them (Chromium streams a
  // resource's data into Network.dataReceived once asked to).
  const cdp = await page.context().newCDPSession(page);
  const streams = new Map<string, { url: string; buffered: Buffer; chunks: Buffer[] }>();
  cdp.on('Network.responseReceived', (event) => {
    if (!event.response.mimeType.includes('event-stream')) return;
    const stream = { url: event.response.url, buffered: Buffer.alloc(0), chunks: [] as Buffer[] };
    streams.set(event.requestId, stream);
    cdp
      .send('Network.streamResourceContent', { requestId: event.requestId })
      .then(({ bufferedData }) => (stream.buffered = Buffer.from(bufferedData, 'base64')))
      .catch(() => undefined); // finished already (a refused stream): its headers are scanned
  });
  cdp.on('Network.dataReceived', (event) => {
    if (event.data) streams.get(event.requestId)?.chunks.push(Buffer.from(event.data, 'base64'));
  });
  await cdp.send('Network.enable');
  const streamText = () =>
    [...streams.values()].map((s) => ({ url: s.url, text: Buffer.concat([s.buffered, ...s.chunks]).toString('latin1') }));

  await logIn(page);
  await expect(page).toHaveURL(`${CONSOLE_URL}/`);
  const row = page.locator('[data-testid^="worker-row-"][data-state="started"]');
  await expect(row).toHaveCount(1);
  await row.getByRole('button', { name: /^Logs of / }).click();
  await expect(page.getByRole('dialog')).toBeVisible();
  // Something to push over the open streams: a sync (nothing to start) records events.
  await expect(page.getByTestId('live-indicator')).toHaveText('Live');
  const sync = await page.request.post(`${CONSOLE_URL}/api/trpc/pools.sync`, {
    headers: { origin: CONSOLE_URL, 'content-type': 'application/json' },
    data: {},
  });
  expect(sync.status()).toBe(200);
  await expect.poll(() => streamText().some((s) => s.text.includes('pool.synced'))).toBe(true);

  // Read now: the console makes its session key at the first login.
  const forms = secretForms({
    'the control token': CONTROL_TOKEN,
    'the admin password': ADMIN_PASSWORD,
    'the console session key': (await readFile(path.join(DATA_DIR, 'console-session-key'), 'utf8')).trim(),
    'the route cookie key': (await readFile(path.join(DATA_DIR, 'route-key'), 'utf8')).trim(),
  });
  const seen = await Promise.all(responses);
  expect(seen.length).toBeGreaterThan(5);
  expect(seen.some((r) => r.url.includes('/api/trpc/') && r.body !== null)).toBe(true);
  expect(seen.every((r) => r.headers !== null)).toBe(true);
  // The scan reads what was really sent: the set-cookie of the login, the worker in the streams.
  expect(seen.some((r) => r.headers!.toLowerCase().includes(`set-cookie: ${COOKIE}=`))).toBe(true);
  const streamed = streamText();
  expect(streamed.length).toBeGreaterThanOrEqual(1);
  // (Any worker: the specs before this one leave whichever they started; #10's add several.)
  expect(streamed.some((s) => /web@\d+/.test(s.text))).toBe(true);

  const found: string[] = [];
  for (const { url, headers, body } of seen) {
    for (const hit of findSecrets(headers ?? '', forms)) found.push(`${hit} in the headers of ${url}`);
    for (const hit of findSecrets(body ?? '', forms)) found.push(`${hit} in ${url}`);
  }
  for (const { url, text } of streamed) for (const hit of findSecrets(text, forms)) found.push(`${hit} in the event stream ${url}`);
  const dom = await page.evaluate(() => `${document.documentElement.outerHTML}\n${document.cookie}`);
  for (const hit of findSecrets(dom, forms)) found.push(`${hit} in the page or document.cookie`);
  expect(found).toEqual([]);
});

test('the secret scan finds a secret however it was written', () => {
  const secret = CONTROL_TOKEN;
  const forms = secretForms({ token: secret });
  const bytes = Buffer.from(secret);
  const samples: Record<string, string> = {
    raw: `Bearer ${secret}`,
    'percent-encoded': `?t=${[...bytes].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('')}`,
    'JSON \\u-escaped': `{"t":"${[...secret].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"}`,
    hex: `x${bytes.toString('hex')}y`,
  };
  // Inside longer encoded values, at every byte offset.
  for (const prefix of ['', 'a', 'ab', 'abc', 'abcd']) {
    const value = Buffer.concat([Buffer.from(`${prefix}:`), bytes, Buffer.from(':z')]);
    samples[`base64 after ${prefix.length + 1} bytes`] = `Basic ${value.toString('base64')}`;
    samples[`base64url after ${prefix.length + 1} bytes`] = `data: ${value.toString('base64url')}`;
  }
  for (const [name, sample] of Object.entries(samples)) expect(findSecrets(sample, forms), name).not.toEqual([]);
  expect(findSecrets(`Bearer ${secret.slice(0, -1)}x ${Buffer.from(secret.slice(1)).toString('base64')}`, forms)).toEqual([]);
});

test('logging out ends the session: a copy of the cookie is refused afterwards', async ({ page, context, playwright }) => {
  await logIn(page);
  await expect(page).toHaveURL(`${CONSOLE_URL}/`);
  const copied = (await context.cookies(CONSOLE_URL)).find((c) => c.name === COOKIE)?.value;
  expect(copied).toBeTruthy();

  // Someone else holding a copy of the cookie (no browser, no jar: just the header).
  const thief = await playwright.request.newContext({ extraHTTPHeaders: { cookie: `${COOKIE}=${copied}` } });
  try {
    // While the session lives, the copy works like the original…
    expect((await thief.get(`${CONSOLE_URL}/api/trpc/workers.list`)).status()).toBe(200);
    expect((await thief.get(`${CONSOLE_URL}/`, { maxRedirects: 0 })).status()).toBe(200);

    await page.getByTestId('logout').click();
    await expect(page).toHaveURL(/\/login/);
    expect((await context.cookies(CONSOLE_URL)).find((c) => c.name === COOKIE)).toBeUndefined();

    // …after the logout the same signed, unexpired cookie is refused everywhere.
    const api = await thief.get(`${CONSOLE_URL}/api/trpc/workers.list`);
    expect(api.status()).toBe(401);
    expect(await api.json()).toMatchObject({ error: { data: { code: 'UNAUTHORIZED' } } });
    const mutation = await thief.post(`${CONSOLE_URL}/api/trpc/pools.sync`, {
      headers: { origin: CONSOLE_URL, 'content-type': 'application/json' },
      data: {},
    });
    expect(mutation.status()).toBe(401);
    const dashboard = await thief.get(`${CONSOLE_URL}/`, { maxRedirects: 0 });
    expect(dashboard.status()).toBe(303);
    expect(dashboard.headers().location).toContain('/login');
    // The login page does not take it for a session either (it would send it to the dashboard).
    expect((await thief.get(`${CONSOLE_URL}/login`, { maxRedirects: 0 })).status()).toBe(200);
  } finally {
    await thief.dispose();
  }

  // Logging in again gives a new, working session.
  await logIn(page);
  await expect(page).toHaveURL(`${CONSOLE_URL}/`);
  const fresh = (await context.cookies(CONSOLE_URL)).find((c) => c.name === COOKIE)?.value;
  expect(fresh).toBeTruthy();
  expect(fresh).not.toBe(copied);
});

test.describe('without a trusted proxy, forged X-Forwarded-* headers change nothing', () => {
  test('a forged X-Forwarded-For does not reset the login throttle', async ({ page }) => {
    const user = probeUser('throttle');
    await page.goto(`${CONSOLE_URL}/login`);
    // Every attempt claims another client address; the throttle still counts them together.
    for (let i = 1; i <= 4; i++) {
      await page.setExtraHTTPHeaders({ 'x-forwarded-for': `203.0.113.${i}` });
      expect(await failLogin(page, user)).toBe('Wrong user name or password.');
    }
    await page.setExtraHTTPHeaders({ 'x-forwarded-for': '203.0.113.5' });
    expect(await failLogin(page, user)).toBe('Wrong user name or password. Too many failed attempts: wait 30 seconds and try again.');
    await page.setExtraHTTPHeaders({ 'x-forwarded-for': '198.51.100.99', 'x-real-ip': '198.51.100.99' });
    expect(await failLogin(page, user)).toMatch(/^Too many failed attempts\. Wait \d+ seconds and try again\.$/);

    // The lockout is this user name's, not the whole console's.
    expect(await failLogin(page, probeUser('other'))).toBe('Wrong user name or password.');
  });

  test('a forged X-Forwarded-Proto: https does not change the cookie (no Secure), and the login works', async ({ page, context }) => {
    await page.goto(`${CONSOLE_URL}/login`);
    await page.setExtraHTTPHeaders({ 'x-forwarded-proto': 'https' });
    const response = await submitLogin(page, ADMIN_USER, ADMIN_PASSWORD);
    const attributes = await sessionCookieAttributes(response);
    expect(attributes).not.toBeNull();
    expect(attributes).toEqual(expect.arrayContaining(['httponly', 'samesite=strict', 'path=/']));
    expect(attributes).not.toContain('secure');
    await expect(page).toHaveURL(`${CONSOLE_URL}/`);
    expect((await context.cookies(CONSOLE_URL)).find((c) => c.name === COOKIE)?.secure).toBe(false);
  });
});

test.describe('behind a trusted proxy (HANDOVER_ADMIN_TRUST_PROXY=1)', () => {
  let proxied: ExtraConsole;

  test.beforeAll(async () => {
    proxied = await startExtraConsole({ HANDOVER_ADMIN_TRUST_PROXY: '1' });
  });

  test.afterAll(async () => {
    await proxied?.stop();
  });

  test('the session cookie is Secure when the proxy says https, and not when it says http', async ({ page }) => {
    // What a TLS-terminating proxy adds to every request it passes on.
    await page.setExtraHTTPHeaders({ 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.20' });
    await page.goto(`${proxied.url}/login`);
    const overTls = await sessionCookieAttributes(await submitLogin(page, ADMIN_USER, ADMIN_PASSWORD));
    expect(overTls, proxied.output()).not.toBeNull();
    expect(overTls).toEqual(expect.arrayContaining(['secure', 'httponly', 'samesite=strict', 'path=/']));

    const plain = await page.context().browser()!.newContext();
    try {
      const plainPage = await plain.newPage();
      await plainPage.setExtraHTTPHeaders({ 'x-forwarded-proto': 'http', 'x-forwarded-for': '198.51.100.21' });
      await plainPage.goto(`${proxied.url}/login`);
      const overHttp = await sessionCookieAttributes(await submitLogin(plainPage, ADMIN_USER, ADMIN_PASSWORD));
      expect(overHttp).not.toBeNull();
      expect(overHttp).toEqual(expect.arrayContaining(['httponly', 'samesite=strict', 'path=/']));
      expect(overHttp).not.toContain('secure');
      // The session is good: the dashboard opens.
      await expect(plainPage).toHaveURL(`${proxied.url}/`);
      await expect(plainPage.getByTestId('current-user')).toHaveText(ADMIN_USER);
    } finally {
      await plain.close();
    }
  });

  test('the throttle keys on the address the proxy reported, not on what the client prepended', async ({ page }) => {
    const user = probeUser('proxied');
    await page.goto(`${proxied.url}/login`);
    // The proxy appends the address it saw; a client's own X-Forwarded-For stays in front of it.
    const from = (client: string, forged?: string) =>
      page.setExtraHTTPHeaders({ 'x-forwarded-proto': 'https', 'x-forwarded-for': forged ? `${forged}, ${client}` : client });
    for (let i = 1; i <= 4; i++) {
      await from('198.51.100.7', `203.0.113.${i}`);
      expect(await failLogin(page, user)).toBe('Wrong user name or password.');
    }
    await from('198.51.100.7');
    expect(await failLogin(page, user)).toContain('Too many failed attempts');
    await from('198.51.100.7', '203.0.113.77');
    expect(await failLogin(page, user)).toMatch(/^Too many failed attempts\. Wait/);
    // Another client (as the proxy saw it) is not locked out by the first one's failures.
    await from('198.51.100.8');
    expect(await failLogin(page, user)).toBe('Wrong user name or password.');
  });
});
