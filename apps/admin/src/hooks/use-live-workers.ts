'use client';

import { useSubscription } from '@trpc/tanstack-react-query';
import { useState } from 'react';
import type { WorkersSnapshot } from '@handover/process-table';
import { useTRPC } from '@/trpc/react';
import { type LinkState, useLinkHealth } from './use-link-health';
import { useProbe } from './use-probe';

/**
 * The dashboard's table: `workers.watch` pushes a full snapshot at once and again whenever
 * anything in it changes (the supervisor samples every 250 ms), so there is no polling and a
 * reconnect needs no catching up.
 */
export function useLiveWorkers(onSnapshot?: (snapshot: WorkersSnapshot) => void): {
  snapshot: WorkersSnapshot | null;
  link: LinkState;
  reason: string | null;
} {
  const trpc = useTRPC();
  const [snapshot, setSnapshot] = useState<WorkersSnapshot | null>(null);
  const sub = useSubscription(
    trpc.workers.watch.subscriptionOptions(undefined, {
      onData: (data) => {
        setSnapshot(data);
        onSnapshot?.(data);
      },
    }),
  );
  const probe = useProbe();
  const { state, reason } = useLinkHealth(sub, { resubscribe: sub.reset, probe });
  return { snapshot, link: state, reason };
}
