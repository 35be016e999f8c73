import { readFile, writeFile } from 'node:fs/promises';
import { type Page, type TestInfo, expect } from '@playwright/test';
import { ADMIN_PASSWORD, ADMIN_USER, CONFIG_PATH } from './stack';

/** Logs in through the form, the way an operator does. */
export async function logIn(page: Page, password = ADMIN_PASSWORD): Promise<void> {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('User name').fill(ADMIN_USER);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** A full-page screenshot kept with the test's artifacts (and attached to the report). */
export async function snap(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const index = String(testInfo.attachments.filter((a) => a.contentType === 'image/png').length + 1).padStart(2, '0');
  const file = testInfo.outputPath(`${index}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

/** Simulates pointing the configuration at a new release. */
export async function setRevision(revision: string, configPath = CONFIG_PATH): Promise<void> {
  const config = JSON.parse(await readFile(configPath, 'utf8'));
  config.pools[0].revision = revision;
  await writeFile(configPath, JSON.stringify(config, null, 2));
}

/** The id of the worker currently taking new sessions (the one row in state started). */
export async function attachedWorker(page: Page): Promise<string> {
  const row = page.locator('[data-testid^="worker-row-"][data-state="started"]');
  await expect(row).toHaveCount(1);
  return (await row.getAttribute('data-testid'))!.replace('worker-row-', '');
}

export const nextOf = (id: string): string => {
  const [pool, generation] = id.split('@');
  return `${pool}@${Number(generation) + 1}`;
};

/** The stack's configuration file, parsed. */
export async function readConfig(configPath = CONFIG_PATH): Promise<{ pools: Array<Record<string, unknown>> } & Record<string, unknown>> {
  return JSON.parse(await readFile(configPath, 'utf8'));
}

/** Rewrites the first pool of the configuration file (an operator editing it). */
export async function editPool(patch: (pool: Record<string, unknown>) => void, configPath = CONFIG_PATH): Promise<void> {
  const config = await readConfig(configPath);
  patch(config.pools[0]!);
  await writeFile(configPath, JSON.stringify(config, null, 2));
}
