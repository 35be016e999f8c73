import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { disposer, tempDir } from '../../../test-support/resources';
import { handoverConfig, startHandover, stopHandover } from '../../../test-support/handover';
import { demoPool, isProcessAlive, randomBasePort, waitFor } from './harness';

const TOKEN = 'cli-test-token-0123456789abcdef';

function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('`handover start` as a real process', () => {

  it('serves, answers curl-style control calls, and leaves no process behind on SIGTERM', async () => {
    await using temp = await tempDir('handover-cli-');
    const home = temp.path;
    const started = await startHandover({
      configPath: join(home, 'handover.config.json'),
      config: (ports) =>
        handoverConfig(
          ports,
          join(home, 'data'),
          demoPool('v1', { name: 'web', basePort: randomBasePort(), healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 50 } }),
        ),
      env: { HANDOVER_CONTROL_TOKEN: TOKEN },
      timeoutMs: 30_000,
    });
    const run = started.run;
    // Declared after the directory, so stopped before it is removed. Workers outlive a SIGKILLed
    // supervisor by design: on a failed test, stop it with SIGTERM (which stops its workers)
    // and only then, if it hangs, SIGKILL.
    await using _stop = disposer(() => stopHandover(run));
    const { proxy: proxyPort, control: controlPort } = started.ports;
    expect(run.output).toContain(`http://127.0.0.1:${proxyPort}/`);

    const control = `http://127.0.0.1:${controlPort}`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${control}/healthz`)).status).toBe(200);
    expect((await fetch(`${control}/trpc/workers.list`)).status).toBe(401);

    // The README's curl forms: a query and a mutation.
    const list = (await (await fetch(`${control}/trpc/workers.list`, { headers: auth })).json()) as any;
    expect(list.result.data).toMatchObject([{ id: 'web@0', state: 'started', revision: 'v1' }]);
    const mutation = await fetch(`${control}/trpc/workers.detachAndSync`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'x-handover-actor': 'curl-user' },
      body: JSON.stringify({ worker: 'web@0' }),
    });
    expect(mutation.status).toBe(200);
    expect(((await mutation.json()) as any).result.data.started).toMatchObject({ id: 'web@1', state: 'started' });
    const badInput = await fetch(`${control}/trpc/workers.detach`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ worker: 'not a worker' }),
    });
    expect(badInput.status).toBe(400);

    // A session on web@1 through the proxy, then the proxy's own health answer.
    const login = await fetch(`http://127.0.0.1:${proxyPort}/api/login`, { method: 'POST' });
    expect(((await login.json()) as any).worker).toBe('web@1');
    expect(await (await fetch(`http://127.0.0.1:${proxyPort}/healthz`)).text()).toMatch(/ok/);

    const workers = ((await (await fetch(`${control}/trpc/workers.list`, { headers: auth })).json()) as any).result.data as Array<{
      id: string;
      pid: number | null;
      state: string;
    }>;
    // Only `started` ones: the drained web@0 (no session) may end between the list and the check.
    const pids = workers.filter((w) => w.pid !== null && w.state === 'started').map((w) => w.pid!);
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) expect(isGroupAlive(pid)).toBe(true);

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    // Exited processes may linger as zombies for a moment until they are reaped.
    await waitFor(() => pids.every((pid) => !isProcessAlive(pid) && !isGroupAlive(pid)), 5_000, 'every worker process to be gone');
    await waitFor(async () => {
      try {
        await fetch(`http://127.0.0.1:${proxyPort}/healthz`);
        return false;
      } catch {
        return true;
      }
    }, 5_000, 'the proxy port to close');
  });
});
