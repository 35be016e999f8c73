/**
 * Handover in front of one bench worker, as main.ts measures it and supervised.ts looks into it:
 * the real `handover start` pinned to a core, without a keeper (so the pid is the supervisor's,
 * whose CPU is measured), on ports chosen at start.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HandoverRun, type SpawnHandoverOptions, handoverConfig, startHandover, stopHandover } from '../../test-support/handover';
import { answers, waitUntilReady } from '../../test-support/ports';

const HERE = dirname(fileURLToPath(import.meta.url));

export interface BenchHandover {
  run: HandoverRun;
  /** The proxy, e.g. `http://127.0.0.1:41234/`. */
  url: string;
}

export async function startBenchHandover(
  dir: string,
  options: {
    /** The core the supervisor and its workers are pinned to; null leaves them to the scheduler. */
    cpu: number | null;
    /** The pool's instances (worker processes taking new sessions side by side); default 1. */
    instances?: number;
    nodeArgs?: string[];
    onOutput?: SpawnHandoverOptions['onOutput'];
  },
): Promise<BenchHandover> {
  const { run, ports } = await startHandover({
    configPath: join(dir, 'handover.config.json'),
    config: (ports) =>
      handoverConfig(ports, join(dir, 'handover-data'), {
        name: 'web',
        command: `node ${JSON.stringify(join(HERE, 'worker.mjs'))}`,
        basePort: 20_000 + Math.floor(Math.random() * 10_000),
        sessionCookie: 'JSESSIONID',
        healthCheck: { path: '/healthz', timeoutSeconds: 20, intervalMs: 100 },
        ...(options.instances !== undefined && options.instances !== 1 ? { instances: options.instances } : {}),
      }),
    prefix: options.cpu === null ? [] : ['taskset', '-c', String(options.cpu)],
    nodeArgs: options.nodeArgs,
    env: { HANDOVER_CONTROL_TOKEN: 'bench-token-0123456789abcdef' },
    keeper: false,
    onOutput: options.onOutput,
  });
  const url = `http://127.0.0.1:${ports.proxy}/`;
  try {
    // The first answer through the proxy also binds the bench session to the worker.
    await waitUntilReady(run.child, () => answers(`${url}login`), { what: 'the proxy', output: () => run.output });
  } catch (error) {
    await stopHandover(run);
    throw error;
  }
  return { run, url };
}
