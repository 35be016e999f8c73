/** What the CLI runs against (streams, environment, clock) and the exit codes it returns. */
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
