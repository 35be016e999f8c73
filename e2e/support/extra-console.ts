import { spawn } from 'node:child_process';
import path from 'node:path';
import { answers, collectOutput, exitOf, freePort, retryOnAddressInUse, waitUntilReady } from '../../test-support/ports';
import { REPO_ROOT, stackEnv } from './stack';

/**
 * A second console process on the same stack (same config, data directory and session store)
 * with settings of its own, e.g. `HANDOVER_ADMIN_TRUST_PROXY=1` as if a TLS proxy were in
 * front. Started from a spec because Playwright's webServer list is fixed; stopped by its pid.
 * On a port chosen now, and again on another if that one was taken before it was bound.
 */
export interface ExtraConsole {
  url: string;
  /** What it printed (stdout and stderr), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export async function startExtraConsole(env: Record<string, string>, timeoutMs = 60_000): Promise<ExtraConsole> {
  return retryOnAddressInUse(async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'apps/admin/scripts/start.mjs')], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...stackEnv(), HANDOVER_ADMIN_PORT: String(port), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: if the polite stop fails, the group (start.mjs and its next) is
      // killed by id, nothing else.
      detached: true,
    });
    const output = collectOutput(child);

    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = exitOf(child);
      child.kill('SIGTERM'); // start.mjs passes it on to next and exits the way next did
      const timer = setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }, 10_000);
      await gone;
      clearTimeout(timer);
    };

    try {
      await waitUntilReady(child, () => answers(`${url}/login`), { what: 'the extra console', output, timeoutMs, intervalMs: 100 });
    } catch (error) {
      await stop();
      throw error;
    }
    return { url, output, stop };
  });
}
