/** The CLI's own errors (how a failed control API call is explained: explain.ts). */

export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

/** A failure already explained to the user (no stack, just the message). */
export class CliError extends Error {}
