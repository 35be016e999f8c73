import { dirname, resolve } from 'node:path';
import { ConfigError, formatConfigWarning, loadConfig, loadDotEnv } from '@handover/config';
import { type AdminCredentials, resolveAdminCredentials } from '@handover/secrets';
import { INHERITED_SOCKETS_ENV, KEEPER_ENV, KEEPER_RESTART_ENV, inheritedSockets, parseKeeperRestart, runKeeper } from './keeper';
import type { RunningSupervisor } from './launch';

/** How long a supervisor that hit an unexpected error under the keeper waits for the store. */
const LEAVE_ON_ERROR_MS = 3_000;

export interface StartOptions {
  configPath?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * `handover start`: loads `.env` and the configuration, launches everything, prints where
 * to go, and runs until SIGINT/SIGTERM, when it stops gracefully with no worker left behind.
 * Unless HANDOVER_KEEPER=0, this process becomes the keeper (keeper.ts) and the supervisor
 * runs in a child that inherits the proxy sockets and is restarted if it dies.
 */
export async function startSupervisor(options: StartOptions = {}): Promise<void> {
  const env = options.env ?? process.env;
  const configPath = resolve(options.configPath ?? env.HANDOVER_CONFIG ?? 'handover.config.json');
  await loadDotEnv(resolve(dirname(configPath), '.env'), env);

  let running: RunningSupervisor;
  let console: ConsoleInfo | null = null;
  let requestStop: (keepWorkers: boolean) => void = () => undefined;
  const underKeeper = env[INHERITED_SOCKETS_ENV] !== undefined && process.send !== undefined;
  const sockets = underKeeper ? inheritedSockets(env) : undefined;
  // The IPC channel to the keeper must never keep this process alive (a failed start exits).
  if (underKeeper) process.channel?.unref();
  const keeperRestart = underKeeper ? parseKeeperRestart(env[KEEPER_RESTART_ENV]) : undefined;
  // Read once; the workers inherit this environment and have no use for them.
  delete env[INHERITED_SOCKETS_ENV];
  delete env[KEEPER_RESTART_ENV];
  try {
    const config = await loadConfig({ path: configPath, env });
    // Under a keeper, the keeper printed them already.
    if (!underKeeper) for (const warning of config.warnings) process.stderr.write(`handover: ${formatConfigWarning(warning)}\n`);
    if (!underKeeper && env[KEEPER_ENV] !== '0') {
      process.exitCode = await runKeeper({ config, configPath, env });
      return;
    }
    // Loaded here, not at the top: the keeper never needs the proxy, SQLite or tRPC in memory.
    const { launchSupervisor } = await import('./launch');
    running = await launchSupervisor(config, {
      env,
      inheritedSockets: sockets,
      keeperRestart,
      onStopRequest: (keepWorkers) => requestStop(keepWorkers),
    });
    // `npm start` runs the admin console beside us: make sure its login exists, and say where.
    if (env.HANDOVER_CONSOLE === '1') {
      const port = Number(env.HANDOVER_ADMIN_PORT ?? 3000);
      console = { url: `http://127.0.0.1:${port}/`, credentials: await resolveAdminCredentials({ dataDir: config.dataDir, env }) };
    }
  } catch (error) {
    process.stderr.write(`handover: ${error instanceof ConfigError ? error.message : describe(error)}\n`);
    process.exitCode = 1;
    return;
  }

  // Whatever happens to this process, no worker may outlive it by accident (unless it leaves
  // them on purpose, for a supervisor that re-adopts them).
  process.once('exit', () => running.supervisor.killAll());
  let failing = false;
  process.on('uncaughtException', (error) => {
    if (underKeeper) {
      // A bug in the supervisor must not log everyone out: the keeper starts a new supervisor
      // at once, which re-adopts the workers with their sessions. Leave them running.
      process.stderr.write(
        `handover: unexpected error: ${error.stack ?? error}\n` +
          'handover: leaving the workers running; the keeper starts a new supervisor that re-adopts them\n',
      );
      if (failing) return;
      failing = true;
      // The process is in an unknown state: give the store a moment to flush, no more.
      setTimeout(() => process.exit(70), LEAVE_ON_ERROR_MS).unref();
      running.supervisor.leave('unexpected error in the supervisor; the keeper restarts it').then(
        () => process.exit(70),
        () => process.exit(70),
      );
      return;
    }
    process.stderr.write(`handover: unexpected error, stopping every worker: ${error.stack ?? error}\n`);
    running.supervisor.killAll();
    process.exit(1);
  });

  printBanner(running, console);

  let signals = 0;
  let stopping = false;
  const stop = (keepWorkers: boolean) => {
    stopping = true;
    // The keeper lets go of its copies of the listening sockets: new connections are refused now.
    if (underKeeper && process.connected) process.send?.({ type: 'stopping' }, undefined, {}, () => {});
    running.stop(undefined, { keepWorkers }).then(
      () => {
        process.stdout.write(
          keepWorkers ? 'handover: stopped; the workers keep running: `handover start` re-adopts them\n' : 'handover: stopped\n',
        );
        process.exit(0);
      },
      (error: unknown) => {
        process.stderr.write(`handover: error while stopping: ${describe(error)}\n`);
        running.supervisor.killAll();
        process.exit(1);
      },
    );
  };
  // `handover stop [--keep-workers]` through the control API.
  requestStop = (keepWorkers) => {
    if (stopping) return;
    process.stdout.write(
      keepWorkers
        ? '\nhandover: stop requested: finishing in-flight requests; the workers keep running\n'
        : '\nhandover: stop requested: finishing in-flight requests and stopping workers…\n',
    );
    stop(keepWorkers);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`handover: ${signal} again, killing every worker now\n`);
      running.supervisor.killAll();
      process.exit(1);
    }
    // A signal during a stop that keeps the workers does not turn it into a full stop.
    if (stopping) return;
    process.stdout.write(`\nhandover: ${signal} received, finishing in-flight requests and stopping workers…\n`);
    stop(false);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  if (underKeeper) {
    process.send?.({ type: 'ready' });
    // The keeper itself was killed: nobody would restart us or pass on a signal, so leave as a
    // `kill -9` of a keeper-less supervisor would — workers running, for `handover start` to re-adopt.
    process.once('disconnect', () => {
      if (stopping) return;
      process.stderr.write('handover: the keeper process is gone; stopping and leaving the workers running for `handover start`\n');
      stop(true);
    });
  }
}

interface ConsoleInfo {
  url: string;
  credentials: AdminCredentials;
}

function printBanner(running: RunningSupervisor, console: ConsoleInfo | null): void {
  const credentials = console?.credentials;
  const lines = [
    '',
    'Handover is running.',
    ...running.proxies.map((p) => `  app (pool ${p.pool}, through the proxy): ${p.url}`),
    ...(console && credentials
      ? [
          `  admin console: ${console.url}  (it may take a few seconds more to answer)`,
          `     user: ${credentials.user}   password: ${describePassword(credentials)}`,
        ]
      : []),
    `  control API:  ${running.control.url}trpc/  (bearer token ${running.token.source === 'env' ? 'from HANDOVER_CONTROL_TOKEN' : `in ${running.token.file}`})`,
    '',
    'Workers:',
    ...running.supervisor
      .listWorkers()
      .map((w) => `  ${w.id.padEnd(10)} ${w.state.padEnd(9)} revision ${w.revision}  port ${w.port}  pid ${w.pid ?? '-'}`),
    ...running.supervisor
      .listPools()
      .filter((p) => p.status !== 'ok')
      .map((p) => `  pool ${p.name}: ${p.status}: ${p.lastError ?? ''}`),
    '',
    tryLine(running.supervisor.listWorkers()),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * The banner's hints, naming a worker that exists: after a restart that re-adopted web@5, or in
 * a pool called `api`, `detach web@0` would be wrong. No started worker: no detach hint.
 */
export function tryLine(workers: ReadonlyArray<{ id: string; state: string }>): string {
  const worker = workers.find((w) => w.state === 'started');
  return ['Try: npx handover status', ...(worker ? [`npx handover detach ${worker.id} --sync`] : []), 'Ctrl-C stops everything.'].join('    ');
}

function describePassword(credentials: AdminCredentials): string {
  if (credentials.source === 'env') return '(from HANDOVER_ADMIN_PASSWORD)';
  if (credentials.password !== null) {
    return `${credentials.password}   (new: shown only now; only its hash is kept, in ${credentials.file})`;
  }
  return `(shown when it was generated; to make a new one delete ${credentials.file} and restart, or set HANDOVER_ADMIN_PASSWORD in .env)`;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      return `${error.message}: another program uses that port. Stop it, or choose other ports in .env (HANDOVER_PROXY_PORT, HANDOVER_CONTROL_PORT).`;
    }
    return error.message;
  }
  return String(error);
}
