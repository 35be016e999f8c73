/**
 * How a failed control API call is explained to the operator. Apart from errors.ts so that
 * `handover start` (the keeper and the supervisor run through the CLI) never loads the tRPC client.
 */
import { TRPCClientError } from '@trpc/client';
import { CliError, UsageError } from './errors';

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
export function explain(error: unknown, url: string): unknown {
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
