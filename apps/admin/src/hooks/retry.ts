import { TRPCClientError } from '@trpc/client';

/**
 * For the page's starting queries (event list, session history): keep retrying while the
 * supervisor or the network is away (503 / no answer), give up on real errors (4xx).
 */
export function retryWhileUnavailable(_failures: number, error: unknown): boolean {
  if (!(error instanceof TRPCClientError)) return true;
  const status = (error.data as { httpStatus?: number } | undefined)?.httpStatus;
  return status === undefined || status >= 500;
}

export const retryDelay = (failures: number): number => Math.min(3000, 500 * 2 ** failures);
