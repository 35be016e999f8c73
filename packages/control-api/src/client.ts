import { createTRPCClient, httpLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import type { TRPCClient } from '@trpc/client';
import { EventSource } from 'eventsource';
import type { AppRouter } from './router';
import { TRPC_PATH } from './http-handler';

export interface ControlClientOptions {
  /** The control API, e.g. `http://127.0.0.1:8090` (a trailing `/trpc` is accepted too). */
  url: string;
  token: string;
  /** Who is acting, recorded in the event log (e.g. `cli:alice`). Default: `api` (server side). */
  actor?: string;
  /** Custom fetch (tests, proxies). Default: the global fetch. */
  fetch?: typeof globalThis.fetch;
}

export type ControlClient = TRPCClient<AppRouter>;

/** The tRPC endpoint for a control API base URL. */
export function trpcUrl(url: string): string {
  const base = url.replace(/\/+$/, '');
  return base.endsWith(TRPC_PATH) ? base : `${base}${TRPC_PATH}`;
}

/** HTTP header values must be visible ASCII; replace anything else. */
function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').trim();
}

/**
 * A typed client: queries and mutations over plain HTTP (`httpLink`), subscriptions over
 * server-sent events (`httpSubscriptionLink` with the `eventsource` package, which — unlike the
 * browser's EventSource — lets us send the bearer token as a header). Works in Node 20.
 */
export function createControlClient(options: ControlClientOptions): ControlClient {
  const url = trpcUrl(options.url);
  const baseFetch = options.fetch ?? globalThis.fetch;
  const headers: Record<string, string> = { authorization: `Bearer ${options.token}` };
  if (options.actor !== undefined) headers['x-handover-actor'] = headerSafe(options.actor);

  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({
          url,
          EventSource,
          eventSourceOptions: {
            fetch: (input, init) =>
              baseFetch(input, { ...init, headers: { ...init.headers, ...headers } }),
          },
        }),
        false: httpLink({ url, headers, fetch: baseFetch }),
      }),
    ],
  });
}
