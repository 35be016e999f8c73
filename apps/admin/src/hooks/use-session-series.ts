'use client';

import { useQuery } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { SessionSample, WorkersSnapshot } from '@handover/process-table';
import { isRunning } from '@/lib/workers';
import { useTRPC } from '@/trpc/react';
import { retryDelay, retryWhileUnavailable } from './retry';

/** The chart's window. The supervisor keeps the same 10 minutes. */
export const SERIES_WINDOW_MS = 10 * 60 * 1000;
/** Snapshots closer together than this replace the previous sample instead of adding one. */
const MIN_GAP_MS = 200;

export function sampleOf(snapshot: WorkersSnapshot): SessionSample {
  const sessions: Record<string, number> = {};
  for (const worker of snapshot.workers) if (isRunning(worker)) sessions[worker.id] = worker.sessions;
  return { at: snapshot.at, sessions };
}

/** History first, then live samples newer than its last one; trimmed to the window. */
export function mergeSamples(history: SessionSample[], live: SessionSample[], now: number): SessionSample[] {
  const lastHistory = history.length > 0 ? Date.parse(history[history.length - 1]!.at) : -Infinity;
  const merged = [...history, ...live.filter((s) => Date.parse(s.at) > lastHistory)];
  return trim(merged, now);
}

function trim(samples: SessionSample[], now: number): SessionSample[] {
  const start = now - SERIES_WINDOW_MS;
  // Keep one sample before the window so lines start at its left edge.
  let first = 0;
  while (first + 1 < samples.length && Date.parse(samples[first + 1]!.at) < start) first++;
  return first === 0 ? samples : samples.slice(first);
}

/**
 * Session counts per worker over the last 10 minutes: `workers.history` (one sample every
 * 2 s, kept by the supervisor) with every live snapshot appended, so the chart moves the
 * moment a count changes.
 */
export function useSessionSeries(): { samples: SessionSample[]; addSnapshot: (snapshot: WorkersSnapshot) => void; refetch: () => void } {
  const trpc = useTRPC();
  const history = useQuery({
    ...trpc.workers.history.queryOptions(),
    retry: retryWhileUnavailable,
    retryDelay,
  });
  const live = useRef<SessionSample[]>([]);
  const [samples, setSamples] = useState<SessionSample[]>([]);

  useEffect(() => {
    if (history.data === undefined) return;
    setSamples(mergeSamples(history.data, live.current, Date.now()));
  }, [history.data]);

  const addSnapshot = useCallback((snapshot: WorkersSnapshot) => {
    const sample = sampleOf(snapshot);
    const push = (list: SessionSample[]): SessionSample[] => {
      const last = list[list.length - 1];
      const next = last !== undefined && Date.parse(sample.at) - Date.parse(last.at) < MIN_GAP_MS ? list.slice(0, -1) : list;
      return trim([...next, sample], Date.parse(sample.at));
    };
    live.current = push(live.current);
    setSamples((current) => push(current));
  }, []);

  const { refetch: refetchHistory } = history;
  const refetch = useCallback(() => void refetchHistory(), [refetchHistory]);
  return { samples, addSnapshot, refetch };
}
