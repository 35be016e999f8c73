/**
 * The `handover` CLI as a function: `runCli(argv, io) → exit code`, so tests can run it in
 * process against a real control server. `main.ts` wires it to the process.
 */
import { ConfigError } from '@handover/config';
import { ControlTokenError } from '@handover/secrets';
import { checkArguments, parseCommandLine, parseTarget } from './arguments';
import { COMMANDS, helpText } from './commands';
import { resolveConfigPath } from './config-path';
import type { CommandContext } from './context';
import { CliError, UsageError } from './errors';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIO } from './io';

// Every command's code is loaded when it runs: `start` (which the keeper and the supervisor
// run) then never has the control client, tRPC's client or the fleet code in memory.

export { helpText } from './commands';
export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './io';
export type { CliIO, Output } from './io';

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
  const { values, positionals } = parseCommandLine(argv);
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

  checkArguments(command, args, values, spec);
  const json = values.json === true;

  if (command === 'start') {
    const configPath = resolveConfigPath(io, values.config);
    const start = io.startSupervisor ?? (await import('../start')).startSupervisor;
    await start({ configPath, env: io.env });
    return EXIT_OK;
  }

  if (command === 'haproxy-config') return (await import('./node-commands')).printHaproxyConfig(io, values, spec);
  if (command === 'fleet') return (await import('./fleet-commands')).fleet(io, values, args, spec);

  // Validate arguments before looking for the supervisor.
  const target = parseTarget(command, args, values, spec);

  // The commands that only read work on with a configuration file mid-edit (see connect).
  const readOnly =
    command === 'status' || command === 'logs' || command === 'events' || (command === 'node' && target.nodeAction === 'status') || (command === 'drain' && values['stop-now'] !== true) || (command === 'sync' && values['dry-run'] === true);
  const { connect } = await import('./connect');
  const { client, url } = await connect(io, values.config, { readOnly });
  const out = (text: string) => io.stdout.write(text);
  const printJson = (value: unknown) => out(`${JSON.stringify(value, null, 2)}\n`);
  const now = io.now ?? Date.now;
  const context: CommandContext = { client, url, io, spec, options: values, target, json, out, printJson, now };

  try {
    return await runControlCommand(command, context);
  } catch (error) {
    throw (await import('./explain')).explain(error, url);
  }
}

/** The commands that talk to the running supervisor through its control API. */
async function runControlCommand(command: string, context: CommandContext): Promise<number> {
  switch (command) {
    case 'status':
      return (await import('./pool-commands')).status(context);
    case 'detach':
      return (await import('./pool-commands')).detach(context);
    case 'reattach':
      return (await import('./pool-commands')).reattach(context);
    case 'sync':
      return (await import('./pool-commands')).sync(context);
    case 'logs':
      return (await import('./pool-commands')).logs(context);
    case 'drain':
      return (await import('./pool-commands')).drain(context);
    case 'stop':
      return (await import('./stop')).stop(context);
    case 'events':
      return (await import('./events')).events(context);
    case 'node':
      return (await import('./node-commands')).node(context);
    default:
      throw new UsageError(`unknown command: ${command}`, '<command> [options]');
  }
}
