'use client';

import { QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { type ReactNode, useState } from 'react';
import type { AppRouter } from '@handover/control-api';
import { makeQueryClient } from './query-client';

/**
 * The tRPC half of the console (create-t3-turbo style): hooks typed by the supervisor's
 * `AppRouter`, talking only to this origin's `/api/trpc`, which adds the control token on
 * the server. Subscriptions use the browser's EventSource (server-sent events).
 */
export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

/** Same origin only; the pass-through is mounted here. */
const API_URL = '/api/trpc';

export function TRPCReactProvider({ children }: { children: ReactNode }) {
  // One client per browser tab (useState, not a module global, so SSR never shares one).
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        splitLink({
          condition: (op) => op.type === 'subscription',
          true: httpSubscriptionLink({ url: API_URL }),
          false: httpBatchLink({ url: API_URL, maxItems: 10 }),
        }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
