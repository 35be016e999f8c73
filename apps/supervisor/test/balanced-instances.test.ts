/**
 * A pool of several instances as users run one: every started instance takes new sessions (the
 * one with the fewest first), sessions never move, and per-instance counts are each the app's own.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client, FIXTURES, TestSupervisor } from './harness';

const APP = join(FIXTURES, 'cookie-app.mjs');
const pool = (revision: string, instances: number) => ({ command: `node ${JSON.stringify(APP)}`, sessionCookie: 'JSESSIONID', revision, instances });

describe('instances > 1', () => {
  it('new sessions spread over the started instances (30 visitors on 3 → 10 each), and each stays on its own', async () => {
    await using harness = await TestSupervisor.launch(pool('v1', 3));
    const ids = ['web@0', 'web@1', 'web@2'];
    expect(harness.supervisor.listWorkers().filter((w) => w.state === 'started').map((w) => w.id)).toEqual(ids);

    const visitors = Array.from({ length: 30 }, () => new Client(harness.proxyUrl));
    const firstWorker = new Map<Client, string>();
    for (const visitor of visitors) firstWorker.set(visitor, ((await visitor.get('/cart')).json as { worker: string }).worker);
    expect(ids.map((id) => harness.worker(id).sessions)).toEqual([10, 10, 10]);
    for (const visitor of visitors.slice(0, 6)) {
      expect(((await visitor.get('/cart')).json as { worker: string }).worker).toBe(firstWorker.get(visitor));
    }
  });
});
