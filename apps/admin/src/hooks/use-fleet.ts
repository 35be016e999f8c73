'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpLink } from '@trpc/client';
import type { AppRouter } from '@handover/control-api';
import type { FleetStatusAnswer, FleetSyncRunView } from '@/lib/fleet';

/**
 * The /fleet page's data: every node's view polled from `/api/fleet/status` (every 2 s), the
 * rolling sync's run from `/api/fleet/sync` (every second while it runs), and node drain/ready
 * through that node's pass-through. Polling rather than one event stream per node: a node that
 * is down or slow costs one late answer, not a reconnect dance per node.
 */
const STATUS_EVERY_MS = 2000;

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const answer = await fetch(url, { cache: 'no-store', ...init });
  const body = (await answer.json().catch(() => null)) as (T & { error?: { message?: string } }) | null;
  if (!answer.ok) throw new Error(body?.error?.message ?? `${url} answered ${answer.status}`);
  return body as T;
}

export function useFleetStatus() {
  return useQuery({
    queryKey: ['fleet', 'status'],
    queryFn: () => getJson<FleetStatusAnswer>('/api/fleet/status'),
    refetchInterval: STATUS_EVERY_MS,
    refetchIntervalInBackground: false,
    retry: false,
    staleTime: 0,
  });
}

export function useFleetSync() {
  const queryClient = useQueryClient();
  const run = useQuery({
    queryKey: ['fleet', 'sync'],
    queryFn: async () => (await getJson<{ run: FleetSyncRunView | null }>('/api/fleet/sync')).run,
    refetchInterval: (query) => (query.state.data?.state === 'running' ? 1000 : 5000),
    retry: false,
    staleTime: 0,
  });
  const start = useMutation({
    mutationFn: async () => (await getJson<{ run: FleetSyncRunView }>('/api/fleet/sync', { method: 'POST' })).run,
    onSuccess: (started) => queryClient.setQueryData(['fleet', 'sync'], started),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['fleet', 'sync'] }),
  });
  return { run, start };
}

/** A typed client for one node's control API, through the console (`/api/fleet/nodes/<node>/trpc`). */
export function nodeClient(node: string) {
  return createTRPCClient<AppRouter>({ links: [httpLink({ url: `/api/fleet/nodes/${encodeURIComponent(node)}/trpc` })] });
}

/** Drain or ready a node; the status poll shows the result, refreshed at once. */
export function useNodeTraffic(node: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (action: 'drain' | 'ready') => (action === 'drain' ? nodeClient(node).node.drain.mutate() : nodeClient(node).node.ready.mutate()),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['fleet', 'status'] }),
  });
}
