import { expect, test } from '@playwright/test';
import { CONTROL_TOKEN, PORTS } from './support/stack';

/**
 * The stack Playwright runs is `handover start` as `npm start` runs it, after `npm test`'s build:
 * it must be the compiled JavaScript in apps/supervisor/dist, not the TypeScript sources through
 * a transpiler (which costs each process tens of MiB, docs/BENCHMARKS.md §4).
 */
test('the supervisor runs the compiled build', async ({ request }) => {
  const answer = await request.get(`http://127.0.0.1:${PORTS.control}/trpc/events.list?input=${encodeURIComponent(JSON.stringify({ limit: 1000 }))}`, {
    headers: { authorization: `Bearer ${CONTROL_TOKEN}` },
  });
  expect(answer.ok()).toBe(true);
  const events = ((await answer.json()) as { result: { data: Array<{ type: string; data: { runtime?: string; node?: string } | null }> } }).result.data;
  const started = events.findLast((event) => event.type === 'supervisor.started');
  expect(started?.data).toMatchObject({ runtime: 'compiled', node: process.version });
});
