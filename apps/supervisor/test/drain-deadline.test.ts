/**
 * When a drain ends at the latest is data, not only a timer: `workers.list` (and so `status
 * --json` and the console) carries it as `drainDeadline`. Real supervisor, real worker processes;
 * a session is bound the way the proxy binds one.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '@handover/config';
import type { Upstream } from '@handover/proxy';
import { EventLog } from '../src/event-log';
import { Supervisor } from '../src/supervisor';
import { asyncResource, tempDir } from '../../../test-support/resources';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'env-app.mjs');

/** A supervisor with one session on web@0; shut down (and its temp dir removed) on dispose. */
async function launch(drain: Record<string, unknown> | undefined) {
  const tmp = await tempDir('handover-drain-');
  const dir = tmp.path;
  const config = parseConfig(
    {
      dataDir: join(dir, 'data'),
      pools: [
        {
          name: 'web',
          command: `node ${JSON.stringify(FIXTURE)}`,
          basePort: 20_000 + Math.floor(Math.random() * 5_000),
          sessionCookie: 'sid',
          healthCheck: { timeoutSeconds: 20, intervalMs: 50 },
          ...(drain === undefined ? {} : { drain }),
        },
      ],
    },
    { configPath: join(dir, 'handover.config.json'), env: {}, ephemeralPorts: null },
  );
  const events = new EventLog(':memory:');
  const supervisor = new Supervisor({ config, events, env: { PATH: process.env.PATH }, reloadConfig: async () => config });
  await supervisor.start();
  // A session on web@0, bound as the proxy binds one, so its drain does not end at once.
  const route = supervisor.routeOf('web');
  route.sessions.bind('alice', route.target as Upstream, 600_000);
  return asyncResource({ supervisor }, async () => {
    await supervisor.shutdown();
    events.close();
    await tmp[Symbol.asyncDispose]();
  });
}

const info = (supervisor: Supervisor, id: string) => supervisor.listWorkers().find((w) => w.id === id)!;

describe('the drain deadline in workers.list', () => {
  it('is detachedAt + drain.maxSeconds while detached, null when attached or after a reattach', async () => {
    await using launched = await launch({ maxSeconds: 600 });
    const { supervisor } = launched;
    expect(info(supervisor, 'web@0').drainDeadline).toBeNull();
    await supervisor.detachAndSync('web@0', 'test');
    const web0 = info(supervisor, 'web@0');
    expect(web0).toMatchObject({ state: 'detached', sessions: 1 });
    expect(Date.parse(web0.drainDeadline!) - Date.parse(web0.detachedAt!)).toBe(600_000);
    expect(info(supervisor, 'web@1').drainDeadline).toBeNull();
    await supervisor.reattach('web@0', 'test');
    expect(info(supervisor, 'web@0').drainDeadline).toBeNull();
    // web@1 stepped aside (detached) and has no session: it drains at once, deadline or not.
  });

  it('is a day after the detach by default', async () => {
    await using launched = await launch(undefined);
    await launched.supervisor.detachAndSync('web@0', 'test');
    const web0 = info(launched.supervisor, 'web@0');
    expect(Date.parse(web0.drainDeadline!) - Date.parse(web0.detachedAt!)).toBe(24 * 3600 * 1000);
  });

  it('is null with drain.maxSeconds null (wait for the last session)', async () => {
    await using launched = await launch({ maxSeconds: null });
    await launched.supervisor.detachAndSync('web@0', 'test');
    expect(info(launched.supervisor, 'web@0')).toMatchObject({ state: 'detached', drainDeadline: null });
  });
});
