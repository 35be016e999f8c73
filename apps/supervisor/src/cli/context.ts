/** What a command that talks to the running supervisor gets: the client, its request, the output. */
import type { ControlClient } from '@handover/control-api';
import type { CliOptions, Target } from './arguments';
import type { CommandSpec } from './commands';
import type { CliIO } from './io';

export interface CommandContext {
  client: ControlClient;
  /** The control API's base URL, for messages. */
  url: string;
  io: CliIO;
  spec: CommandSpec;
  options: CliOptions;
  target: Target;
  json: boolean;
  out: (text: string) => unknown;
  printJson: (value: unknown) => unknown;
  now: () => number;
}
