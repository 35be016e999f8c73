/** `handover stop`: asks the supervisor to stop, then waits until it no longer answers. */
import type { CommandContext } from './context';
import { CliError } from './errors';
import { plural } from './format';
import { EXIT_OK } from './io';

export async function stop({ client, url, options: values, json, out, printJson }: CommandContext): Promise<number> {
  const keepWorkers = values['keep-workers'] === true;
  const result = await client.supervisor.stop.mutate({ keepWorkers });
  if (!json) {
    out(
      keepWorkers
        ? `stopping the supervisor (pid ${result.pid}); ${plural(result.workers.length, 'worker')} keep running: ${result.workers.join(', ') || 'none'}\n`
        : `stopping the supervisor (pid ${result.pid}) and its ${plural(result.workers.length, 'worker')}…\n`,
    );
  }
  await waitUntilGone(url, STOP_WAIT_MS);
  if (json) printJson(result);
  else out(keepWorkers ? 'stopped; `handover start` re-adopts the workers\n' : 'stopped\n');
  return EXIT_OK;
}

/** How long `handover stop` waits for the supervisor to be gone (workers stop gracefully). */
const STOP_WAIT_MS = 120_000;

/** Waits until the control API no longer answers (the supervisor has exited). */
async function waitUntilGone(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    } catch (error) {
      // A slow answer is not an absent one.
      if ((error as Error).name !== 'TimeoutError') return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new CliError(`the supervisor on ${url} is still answering ${timeoutMs / 1000}s after the stop request`);
}
