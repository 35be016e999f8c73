/**
 * The `handover` CLI as a function: `runCli(argv, io) → exit code`, so tests can run it in
 * process against a real control server. `main.ts` wires it to the process.
 */
import { writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TRPCClientError } from '@trpc/client';
import { ConfigError, loadConfig, loadDotEnv, urlHost } from '@handover/config';
import { WORKER_ID, POOL_NAME, createControlClient } from '@handover/control-api';
import type { ControlClient } from '@handover/control-api';
import type { HandoverEvent } from '@handover/process-table';
import { ControlTokenError, readControlToken } from '@handover/secrets';
import {
  drainingSummary,
  eventsTable,
  formatEventLine,
  formatLogLine,
  formatStatus,
  formatSyncResult,
  readySummary,
} from './format';

export interface Output {
  write(chunk: string): unknown;
}

export interface CliIO {
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Clock for uptimes. Default Date.now. */
  now?: () => number;
  /** For the actor `cli:<username>`. Default: the OS user. */
  username?: string;
  /** Ends `events --follow` (main.ts aborts it on Ctrl-C). */
  signal?: AbortSignal;
  /** `handover start`; default: `startSupervisor` from `../start`. */
  startSupervisor?: (options: { configPath?: string; env?: NodeJS.ProcessEnv }) => Promise<void>;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

type OptionName = 'json' | 'sync' | 'lines' | 'follow' | 'keep-workers' | 'export';

interface CommandSpec {
  usage: string;
  summary: string;
  /** Allowed positional arguments: [min, max]. */
  args: [number, number];
  options: ReadonlyArray<OptionName>;
}

const COMMANDS: Record<string, CommandSpec> = {
  start: {
    usage: 'start [--config FILE]',
    summary: 'run the supervisor, the proxy and the workers (until Ctrl-C); re-adopts workers a previous supervisor left running',
    args: [0, 0],
    options: [],
  },
  stop: {
    usage: 'stop [--keep-workers] [--json]',
    summary: 'stop the supervisor and every worker; --keep-workers leaves the workers running for the next start to re-adopt',
    args: [0, 0],
    options: ['keep-workers', 'json'],
  },
  status: { usage: 'status [--json]', summary: 'workers and pools', args: [0, 0], options: ['json'] },
  detach: {
    usage: 'detach <worker> [--sync] [--json]',
    summary: 'stop giving new sessions to a worker; --sync first starts its successor on the configured revision',
    args: [1, 1],
    options: ['sync', 'json'],
  },
  sync: {
    usage: 'sync [pool] [--json]',
    summary: 're-read the configuration and start workers where a pool has fewer attached than wanted',
    args: [0, 1],
    options: ['json'],
  },
  reattach: { usage: 'reattach <worker> [--json]', summary: 'let a detached worker take new sessions again (rollback)', args: [1, 1], options: ['json'] },
  logs: { usage: 'logs <worker> [-n N] [--json]', summary: "a worker's last output lines (default 200)", args: [1, 1], options: ['lines', 'json'] },
  events: {
    usage: 'events [-n N] [--follow] [--json] [--export FILE]',
    summary:
      'the event log: state changes and who did what (default last 20); --follow streams new ones; --export writes the whole log to FILE as JSON lines',
    args: [0, 0],
    options: ['lines', 'follow', 'json', 'export'],
  },
  help: { usage: 'help [command]', summary: 'this help', args: [0, 1], options: [] },
};

export function helpText(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
  return [
    'Usage: handover <command> [options]',
    '',
    'Commands:',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  --config FILE   the configuration (default: $HANDOVER_CONFIG, else ./handover.config.json)',
    '  -h, --help      show this help',
    '',
    'The CLI finds the running supervisor through the same configuration: control.host and',
    'control.port, and the token in HANDOVER_CONTROL_TOKEN or <dataDir>/control-token.',
    '',
  ].join('\n');
}

class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

/** A failure already explained to the user (no stack, just the message). */
class CliError extends Error {}

export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const out = (text: string) => io.stdout.write(text);
  const err = (text: string) => io.stderr.write(text);
  try {
    return await dispatch(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      err(`handover: ${error.message}\nusage: handover ${error.usage}\n(see \`handover help\`)\n`);
      return EXIT_USAGE;
    }
    if (error instanceof CliError || error instanceof ConfigError || error instanceof ControlTokenError) {
      err(`handover: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    err(`handover: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_FAILURE;
  } finally {
    void out;
  }
}

async function dispatch(argv: readonly string[], io: CliIO): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        json: { type: 'boolean' },
        sync: { type: 'boolean' },
        lines: { type: 'string', short: 'n' },
        follow: { type: 'boolean', short: 'f' },
        'keep-workers': { type: 'boolean' },
        export: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    const command = argv.find((a) => !a.startsWith('-'));
    const spec = command === undefined ? undefined : COMMANDS[command];
    throw new UsageError((error as Error).message, spec?.usage ?? '<command> [options]');
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;

  if (command === undefined) {
    if (values.help === true) {
      io.stdout.write(helpText());
      return EXIT_OK;
    }
    io.stderr.write(helpText());
    return EXIT_USAGE;
  }
  const spec = COMMANDS[command];
  if (spec === undefined) throw new UsageError(`unknown command: ${command}`, '<command> [options]');
  if (command === 'help' || values.help === true) {
    const topic = command === 'help' ? args[0] : command;
    if (topic !== undefined && topic !== 'help') {
      const about = COMMANDS[topic];
      if (about === undefined) throw new UsageError(`unknown command: ${topic}`, COMMANDS.help!.usage);
      io.stdout.write(`usage: handover ${about.usage}\n  ${about.summary}\n`);
    } else {
      io.stdout.write(helpText());
    }
    return EXIT_OK;
  }

  if (args.length < spec.args[0] || args.length > spec.args[1]) {
    const problem = args.length < spec.args[0] ? 'missing argument' : `unexpected argument: ${args[spec.args[1]]}`;
    throw new UsageError(`${command}: ${problem}`, spec.usage);
  }
  for (const option of ['json', 'sync', 'lines', 'follow', 'keep-workers', 'export'] as const) {
    if (values[option] !== undefined && !spec.options.includes(option)) {
      throw new UsageError(`${command} does not take --${option}`, spec.usage);
    }
  }
  const json = values.json === true;

  if (command === 'start') {
    const configPath = resolveConfigPath(io, values.config);
    const start = io.startSupervisor ?? (await import('../start')).startSupervisor;
    await start({ configPath, env: io.env });
    return EXIT_OK;
  }

  // Validate arguments before looking for the supervisor.
  let worker: string | undefined;
  if (command === 'detach' || command === 'reattach' || command === 'logs') {
    worker = args[0]!;
    if (!WORKER_ID.test(worker)) {
      throw new UsageError(`${command}: ${JSON.stringify(worker)} is not a worker id (like web@0)`, spec.usage);
    }
  }
  const pool = command === 'sync' ? args[0] : undefined;
  if (pool !== undefined && !POOL_NAME.test(pool)) {
    throw new UsageError(`sync: ${JSON.stringify(pool)} is not a pool name`, spec.usage);
  }
  const lines =
    values.lines === undefined ? undefined : parseCount(values.lines, command === 'logs' ? 5000 : 1000, spec.usage);

  const { client, url } = await connect(io, values.config);
  const out = (text: string) => io.stdout.write(text);
  const printJson = (value: unknown) => out(`${JSON.stringify(value, null, 2)}\n`);
  const now = io.now ?? Date.now;

  try {
    switch (command) {
      case 'status': {
        const [workers, pools] = await Promise.all([client.workers.list.query(), client.pools.list.query()]);
        if (json) printJson({ workers, pools });
        else out(formatStatus(workers, pools, now()));
        return EXIT_OK;
      }
      case 'detach': {
        if (values.sync === true) {
          if (!json) {
            out(`starting a successor for ${worker} (re-reading the configuration) and waiting for its health check…\n`);
          }
          const result = await client.workers.detachAndSync.mutate({ worker: worker! });
          if (json) printJson(result);
          else {
            out(`${readySummary(result.started)}; new sessions go to ${result.started.id}\n`);
            out(`${drainingSummary(result.detached)}\n`);
          }
          return EXIT_OK;
        }
        const detached = await client.workers.detach.mutate({ worker: worker! });
        if (json) {
          printJson(detached);
          return EXIT_OK;
        }
        out(`${drainingSummary(detached)}\n`);
        const workers = await client.workers.list.query();
        const attached = workers.filter((w) => w.pool === detached.pool && w.attached);
        if (attached.length === 0) {
          io.stderr.write(
            `warning: pool ${detached.pool} has no attached worker now, so new sessions have nowhere to go: ` +
              `run \`handover sync ${detached.pool}\` to start one, or \`handover reattach ${detached.id}\` to undo\n`,
          );
        }
        return EXIT_OK;
      }
      case 'reattach': {
        const info = await client.workers.reattach.mutate({ worker: worker! });
        if (json) printJson(info);
        else out(`${info.id} reattached: it takes new sessions again (revision ${info.revision})\n`);
        return EXIT_OK;
      }
      case 'sync': {
        if (!json) out(`syncing ${pool === undefined ? 'every pool' : `pool ${pool}`} (re-reading the configuration)…\n`);
        const result = await client.pools.sync.mutate(pool === undefined ? undefined : { pool });
        if (json) printJson(result);
        else out(formatSyncResult(result));
        return result.pools.some((p) => p.error !== null) ? EXIT_FAILURE : EXIT_OK;
      }
      case 'logs': {
        const logLines = await client.workers.logs.query({ worker: worker!, lines: lines ?? 200 });
        if (json) printJson(logLines);
        else out(logLines.map((l) => `${formatLogLine(l)}\n`).join(''));
        return EXIT_OK;
      }
      case 'stop': {
        const keepWorkers = values['keep-workers'] === true;
        const result = await client.supervisor.stop.mutate({ keepWorkers });
        if (!json) {
          out(
            keepWorkers
              ? `stopping the supervisor (pid ${result.pid}); ${result.workers.length} worker(s) keep running: ${result.workers.join(', ') || 'none'}\n`
              : `stopping the supervisor (pid ${result.pid}) and its ${result.workers.length} worker(s)…\n`,
          );
        }
        await waitUntilGone(url, STOP_WAIT_MS);
        if (json) printJson(result);
        else out(keepWorkers ? 'stopped; `handover start` re-adopts the workers\n' : 'stopped\n');
        return EXIT_OK;
      }
      case 'events': {
        if (values.export !== undefined) {
          if (values.follow === true) throw new UsageError('events: --export and --follow do not go together', spec.usage);
          const file = path.resolve(io.cwd, values.export);
          const all: HandoverEvent[] = [];
          for (;;) {
            const page = await client.events.list.query({ afterId: all.at(-1)?.id ?? 0, limit: 1000 });
            all.push(...page);
            if (page.length < 1000) break;
          }
          await writeFile(file, all.map((e) => `${JSON.stringify(e)}\n`).join(''));
          out(`exported ${all.length} event(s) to ${file} (JSON lines)\n`);
          return EXIT_OK;
        }
        const events = await client.events.list.query({ limit: lines ?? 20 });
        if (values.follow !== true) {
          if (json) printJson(events);
          else out(`${eventsTable(events)}\n`);
          return EXIT_OK;
        }
        const print = (e: HandoverEvent) => out(json ? `${JSON.stringify(e)}\n` : `${formatEventLine(e)}\n`);
        events.forEach(print);
        await follow(client, events.at(-1)?.id ?? 0, print, io);
        return EXIT_OK;
      }
      default:
        throw new UsageError(`unknown command: ${command}`, '<command> [options]');
    }
  } catch (error) {
    throw explain(error, url);
  }
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

function parseCount(text: string, max: number, usage: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) throw new UsageError(`-n must be a whole number from 1 to ${max}, got ${JSON.stringify(text)}`, usage);
  return n;
}

function resolveConfigPath(io: CliIO, flag: string | undefined): string {
  return path.resolve(io.cwd, flag ?? (io.env.HANDOVER_CONFIG?.trim() || 'handover.config.json'));
}

async function connect(io: CliIO, configFlag: string | undefined): Promise<{ client: ControlClient; url: string }> {
  const configPath = resolveConfigPath(io, configFlag);
  // .env next to the configuration may move the control port or set the token; never
  // modify the caller's environment object.
  const env: NodeJS.ProcessEnv = { ...io.env };
  await loadDotEnv(path.join(path.dirname(configPath), '.env'), env);
  // Only pass the path when the user chose one, so loadConfig's not-found message says where it looked and why.
  const config = await loadConfig({ ...(configFlag !== undefined ? { path: configFlag } : {}), env, cwd: io.cwd });
  const { token } = await readControlToken({ dataDir: config.dataDir, env });
  const url = `http://${urlHost(config.control.host)}:${config.control.port}`;
  const username = io.username ?? safeUsername(env);
  return { client: createControlClient({ url, token, actor: `cli:${username}` }), url };
}

function safeUsername(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.USERNAME ?? 'unknown';
  }
}

function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 10) {
    chain.push(current);
    if (current instanceof AggregateError) chain.push(...current.errors);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/** Turns what the client throws into a message for the operator. */
function explain(error: unknown, url: string): unknown {
  if (error instanceof UsageError || error instanceof CliError) return error;
  if (!(error instanceof TRPCClientError)) return error;
  const code = (error.data as { code?: string } | null | undefined)?.code;
  if (code === 'UNAUTHORIZED') {
    return new CliError(
      `the supervisor on ${url} refused the control token: it was started with another one ` +
        '(check HANDOVER_CONTROL_TOKEN and <dataDir>/control-token)',
    );
  }
  if (code !== undefined) return new CliError(error.message);
  const codes = causeChain(error).map((e) => (e as { code?: unknown }).code);
  if (codes.includes('ECONNREFUSED')) {
    return new CliError(`no supervisor is answering on ${url} — start it with \`npx handover start\``);
  }
  const network = causeChain(error).find((e) => typeof (e as { code?: unknown }).code === 'string') as
    | { code: string; message?: string }
    | undefined;
  if (network !== undefined) return new CliError(`cannot reach the supervisor on ${url}: ${network.message ?? network.code}`);
  return new CliError(`the supervisor on ${url} answered unexpectedly: ${error.message}`);
}

/** Streams live events after `afterId` until `io.signal` aborts or the stream fails. */
function follow(client: ControlClient, afterId: number, print: (e: HandoverEvent) => void, io: CliIO): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (io.signal?.aborted === true) {
      resolve();
      return;
    }
    let reconnecting = false;
    const subscription = client.events.live.subscribe(
      { lastEventId: String(afterId) },
      {
        onData: (envelope) => {
          reconnecting = false;
          print(envelope.data);
        },
        onConnectionStateChange: (state) => {
          if (state.state === 'connecting' && state.error !== null && !reconnecting) {
            reconnecting = true;
            io.stderr.write('lost the connection to the supervisor; reconnecting…\n');
          }
        },
        onError: (error) => {
          cleanup();
          reject(error);
        },
        onComplete: () => {
          cleanup();
          resolve();
        },
      },
    );
    const onAbort = () => {
      cleanup();
      resolve();
    };
    function cleanup() {
      io.signal?.removeEventListener('abort', onAbort);
      subscription.unsubscribe();
    }
    io.signal?.addEventListener('abort', onAbort);
  });
}
