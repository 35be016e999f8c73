'use client';

import { useEffect, useRef, useState } from 'react';

/** What the page knows about one live subscription. */
export type LinkState = 'connecting' | 'live' | 'down';

interface SubscriptionLike {
  status: 'idle' | 'connecting' | 'pending' | 'error';
  error: { message: string } | null;
}

export interface LinkHealthOptions {
  /**
   * Called (after a back-off) when the subscription failed for good, to start it again. The
   * browser's EventSource retries a dropped stream by itself, but gives up on an HTTP error
   * (the console answers 503 while the supervisor is away), so the page retries from there.
   */
  resubscribe: () => void;
  /** Asks the console why: null when it answers, 'unauthorized' when the login expired, or a message. */
  probe: () => Promise<string | null | 'unauthorized'>;
}

/**
 * Turns a tRPC subscription's status into live / down and keeps it alive: after an error it
 * waits (0.5 s, 1 s, 2 s, then every 3 s), checks why, and subscribes again.
 */
export function useLinkHealth(sub: SubscriptionLike, options: LinkHealthOptions): { state: LinkState; reason: string | null } {
  const [down, setDown] = useState(false);
  const [reason, setReason] = useState<string | null>(null);
  const attempts = useRef(0);
  const latest = useRef(options);
  latest.current = options;

  const { status, error } = sub;
  useEffect(() => {
    if (status === 'pending') {
      attempts.current = 0;
      setDown(false);
      setReason(null);
      return;
    }
    if (status === 'connecting' && error !== null) {
      // The stream dropped; the EventSource is already trying again.
      setDown(true);
      return;
    }
    if (status !== 'error') return;
    setDown(true);
    const delay = Math.min(3000, 500 * 2 ** attempts.current);
    attempts.current++;
    let cancelled = false;
    const timer = setTimeout(async () => {
      const why = await latest.current.probe().catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
      if (cancelled) return;
      if (why === 'unauthorized') {
        window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
        return;
      }
      setReason(why);
      latest.current.resubscribe();
    }, delay);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [status, error]);

  const state: LinkState = down ? 'down' : status === 'pending' ? 'live' : 'connecting';
  return { state, reason };
}

/**
 * The page's overall connection: down when any link is down; "reconnected" for a few seconds
 * after coming back, so the operator sees the gap closed.
 */
export function useConnectionSummary(states: LinkState[], reasons: Array<string | null>): {
  state: LinkState;
  reason: string | null;
  reconnected: boolean;
} {
  const state: LinkState = states.includes('down') ? 'down' : states.every((s) => s === 'live') ? 'live' : 'connecting';
  const [reconnected, setReconnected] = useState(false);
  const wasDown = useRef(false);
  useEffect(() => {
    if (state === 'down') {
      wasDown.current = true;
      setReconnected(false);
      return;
    }
    if (state === 'live' && wasDown.current) {
      wasDown.current = false;
      setReconnected(true);
      const timer = setTimeout(() => setReconnected(false), 4000);
      return () => clearTimeout(timer);
    }
  }, [state]);
  return { state, reason: reasons.find((r) => r !== null) ?? null, reconnected };
}
