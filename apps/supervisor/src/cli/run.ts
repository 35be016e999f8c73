/**
 * The `handover` CLI as a function: `runCli(argv, io) → exit code`, so tests can run it in
 * process against a real control server. `main.ts` wires it to the process.
 */
import { ConfigError } from '@handover/config';
import { ControlTokenError } from '@handover/secrets';
import { checkArguments, parseCommandLine, parseTarget } from './arguments';
import { COMMANDS, helpText } from './commands';
import { connect, resolveConfigPath } from './connect';
import type { CommandContext } from './context';
import { CliError, UsageError, explain } from './errors';
import { events } from './events';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIO } from './io';
import { detach, drain, logs, reattach, status, sync } from './pool-commands';
import { fleet } from './fleet-commands';
import { node, printHaproxyConfig } from './node-commands';
import { stop } from './stop';

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

  if (command === 'haproxy-config') return printHaproxyConfig(io, values, spec);
  if (command === 'fleet') return fleet(io, values, args, spec);

  // Validate arguments before looking for the supervisor.
  const target = parseTarget(command, args, values, spec);

  // The commands that only read work on with a configuration file mid-edit (see connect).
  const readOnly =
    command === 'status' || command === 'logs' || command === 'events' || (command === 'node' && target.nodeAction === 'status') || (command === 'drain' && values['stop-now'] !== true) || (command === 'sync' && values['dry-run'] === true);
  const { client, url } = await connect(io, values.config, { readOnly });
  const out = (text: string) => io.stdout.write(text);
  const printJson = (value: unknown) => out(`${JSON.stringify(value, null, 2)}\n`);
  const now = io.now ?? Date.now;
  const context: CommandContext = { client, url, io, spec, options: values, target, json, out, printJson, now };

  try {
    return await runControlCommand(command, context);
  } catch (error) {
    throw explain(error, url);
  }
}

/** The commands that talk to the running supervisor through its control API. */
function runControlCommand(command: string, context: CommandContext): Promise<number> {
  switch (command) {
    case 'status':
      return status(context);
    case 'detach':
      return detach(context);
    case 'reattach':
      return reattach(context);
    case 'sync':
      return sync(context);
    case 'logs':
      return logs(context);
    case 'drain':
      return drain(context);
    case 'stop':
      return stop(context);
    case 'events':
      return events(context);
    case 'node':
      return node(context);
    default:
      throw new UsageError(`unknown command: ${command}`, '<command> [options]');
  }
}
