'use client';

import { TRPCClientError } from '@trpc/client';
import { useCallback } from 'react';
import { useTRPCClient } from '@/trpc/react';

/**
 * Why is the live stream failing? The browser's EventSource never shows an HTTP status, so
 * ask the same pass-through with a plain query: 401 means the console login expired, 503
 * carries the console's explanation (e.g. "the supervisor is not answering on …").
 */
export function useProbe(): () => Promise<string | null | 'unauthorized'> {
  const client = useTRPCClient();
  return useCallback(async () => {
    try {
      await client.health.query();
      return null;
    } catch (error) {
      if (error instanceof TRPCClientError) {
        const status = (error.data as { httpStatus?: number } | undefined)?.httpStatus;
        if (status === 401) return 'unauthorized';
        return error.message;
      }
      return error instanceof Error ? error.message : String(error);
    }
  }, [client]);
}
