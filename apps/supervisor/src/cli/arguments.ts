/** The command line: options and positionals parsed, then checked against the command's spec. */
import { parseArgs } from 'node:util';
import { POOL_NAME_PATTERN as POOL_NAME, WORKER_ID_PATTERN as WORKER_ID } from '@handover/process-table';
import { COMMANDS, type CommandSpec } from './commands';
import { UsageError } from './errors';

export function parseCommandLine(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        json: { type: 'boolean' },
        sync: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        'stop-now': { type: 'boolean' },
        worker: { type: 'string' },
        pool: { type: 'string' },
        type: { type: 'string' },
        actor: { type: 'string' },
        lines: { type: 'string', short: 'n' },
        follow: { type: 'boolean', short: 'f' },
        'keep-workers': { type: 'boolean' },
        export: { type: 'string' },
        listen: { type: 'string' },
        node: { type: 'string', multiple: true },
        stats: { type: 'string' },
        fleet: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    const command = argv.find((a) => !a.startsWith('-'));
    const spec = command === undefined ? undefined : COMMANDS[command];
    throw new UsageError((error as Error).message, spec?.usage ?? '<command> [options]');
  }
}

export type CliOptions = ReturnType<typeof parseCommandLine>['values'];

/** Throws a UsageError for too few or too many arguments, or an option the command does not take. */
export function checkArguments(command: string, args: readonly string[], values: CliOptions, spec: CommandSpec): void {
  if (args.length < spec.args[0] || args.length > spec.args[1]) {
    const problem = args.length < spec.args[0] ? 'missing argument' : `unexpected argument: ${args[spec.args[1]]}`;
    throw new UsageError(`${command}: ${problem}`, spec.usage);
  }
  for (const option of ['json', 'sync', 'dry-run', 'stop-now', 'lines', 'follow', 'keep-workers', 'export', 'worker', 'pool', 'type', 'actor', 'listen', 'node', 'stats', 'fleet'] as const) {
    if (values[option] !== undefined && !spec.options.includes(option)) {
      throw new UsageError(`${command} does not take --${option}`, spec.usage);
    }
  }
}

/** What a control command acts on, validated before looking for the supervisor. */
export interface Target {
  worker: string | undefined;
  /** `node drain|ready|status`. */
  nodeAction?: 'drain' | 'ready' | 'status';
  pool: string | undefined;
  lines: number | undefined;
}

export function parseTarget(command: string, args: readonly string[], values: CliOptions, spec: CommandSpec): Target {
  let worker: string | undefined;
  if (command === 'detach' || command === 'reattach' || command === 'logs' || command === 'drain') {
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
  if (command === 'node') {
    const action = args[0];
    if (action !== 'drain' && action !== 'ready' && action !== 'status') {
      throw new UsageError(`node: ${JSON.stringify(action)} is not drain, ready or status`, spec.usage);
    }
    return { worker, pool, lines, nodeAction: action };
  }
  return { worker, pool, lines };
}

function parseCount(text: string, max: number, usage: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) throw new UsageError(`-n must be a whole number from 1 to ${max}, got ${JSON.stringify(text)}`, usage);
  return n;
}
