'use client';

import type { LinkState } from '@/hooks/use-link-health';

/**
 * Says whether what the page shows is live. Always in the DOM (an aria-live region must exist
 * before its text changes for screen readers to announce it).
 */
export function ConnectionBanner({ state, reason, reconnected }: { state: LinkState; reason: string | null; reconnected: boolean }) {
  return (
    <div className="connection-region" role="status" aria-live="polite" data-testid="connection-status" data-state={state}>
      {state === 'down' ? (
        <div className="banner banner-down" data-testid="disconnected-banner">
          <strong>Disconnected from the supervisor — reconnecting…</strong>
          {reason !== null ? <span className="banner-reason">{reason}</span> : null}
          <span className="banner-reason">The figures below are from before the disconnect.</span>
        </div>
      ) : reconnected ? (
        <div className="banner banner-up" data-testid="reconnected-banner">
          <strong>Reconnected</strong> <span className="banner-reason">the figures are live again.</span>
        </div>
      ) : null}
    </div>
  );
}

/** The small live indicator in the header. */
export function LiveIndicator({ state }: { state: LinkState }) {
  const label = state === 'live' ? 'Live' : state === 'down' ? 'Offline' : 'Connecting';
  return (
    <span className={`live live-${state}`} data-testid="live-indicator">
      <span className="live-dot" aria-hidden="true" />
      {label}
    </span>
  );
}
