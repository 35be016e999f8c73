'use client';

import { skipToken, useQuery } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { HandoverEvent } from '@handover/process-table';
import { useTRPC } from '@/trpc/react';
import { retryDelay, retryWhileUnavailable } from './retry';
import { type LinkState, useLinkHealth } from './use-link-health';
import { useProbe } from './use-probe';

/** Events kept on the page; the full log stays in the supervisor's store. */
const KEEP = 500;

function merge(current: HandoverEvent[], incoming: HandoverEvent[]): HandoverEvent[] {
  const byId = new Map<number, HandoverEvent>();
  for (const event of current) byId.set(event.id, event);
  for (const event of incoming) byId.set(event.id, event);
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, KEEP);
}

/**
 * The timeline: the newest 200 from `events.list`, then `events.live` from the last id seen,
 * so nothing is missed between the two and nothing shows twice. After a reconnect it resumes
 * from the last id it got.
 */
export function useLiveEvents(): { events: HandoverEvent[]; loaded: boolean; link: LinkState; reason: string | null } {
  const trpc = useTRPC();
  const list = useQuery({
    ...trpc.events.list.queryOptions({ limit: 200 }),
    retry: retryWhileUnavailable,
    retryDelay,
  });
  const [events, setEvents] = useState<HandoverEvent[]>([]);
  const lastId = useRef<number | null>(null);
  const [resumeFrom, setResumeFrom] = useState<string | null>(null);

  const add = useCallback((incoming: HandoverEvent[]) => {
    for (const event of incoming) if (lastId.current === null || event.id > lastId.current) lastId.current = event.id;
    setEvents((current) => merge(current, incoming));
  }, []);

  useEffect(() => {
    if (list.data === undefined) return;
    add(list.data);
    setResumeFrom((current) => current ?? String(lastId.current ?? 0));
  }, [list.data, add]);

  const sub = useSubscription(
    trpc.events.live.subscriptionOptions(resumeFrom === null ? skipToken : { lastEventId: resumeFrom }, {
      onData: ({ data }) => add([data]),
    }),
  );
  const probe = useProbe();
  const resubscribe = useCallback(() => {
    const from = String(lastId.current ?? 0);
    // A new input is a new subscription; the same input needs an explicit restart.
    if (from !== resumeFrom) setResumeFrom(from);
    else sub.reset();
  }, [resumeFrom, sub]);
  const { state, reason } = useLinkHealth(sub, { resubscribe, probe });
  const link: LinkState = list.isError && resumeFrom === null ? 'down' : state;
  return { events, loaded: list.data !== undefined, link, reason: reason ?? (list.error?.message ?? null) };
}
