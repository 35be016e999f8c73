import { QueryClient } from '@tanstack/react-query';
import { TRPCClientError } from '@trpc/client';

/** HTTP statuses worth retrying: the supervisor restarting (503) or a network blip (no status). */
function retryable(error: unknown): boolean {
  if (!(error instanceof TRPCClientError)) return true;
  const status = (error.data as { httpStatus?: number } | undefined)?.httpStatus;
  return status === undefined || status === 503 || status >= 500;
}

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Live data arrives over subscriptions; queries are the starting point only.
        staleTime: Infinity,
        refetchOnWindowFocus: false,
        retry: (failures, error) => failures < 3 && retryable(error),
      },
      mutations: {
        // An operator action must never run twice behind their back.
        retry: false,
      },
    },
  });
}
