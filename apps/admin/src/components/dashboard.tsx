'use client';

import { useQuery } from '@tanstack/react-query';
import { useCallback, useEffect, useRef } from 'react';
import type { WorkersSnapshot } from '@handover/process-table';
import { useConnectionSummary } from '@/hooks/use-link-health';
import { useLiveEvents } from '@/hooks/use-live-events';
import { useLiveWorkers } from '@/hooks/use-live-workers';
import { NowProvider } from '@/hooks/use-now';
import { useSessionSeries } from '@/hooks/use-session-series';
import { isRunning } from '@/lib/workers';
import { retryDelay, retryWhileUnavailable } from '@/hooks/retry';
import { useTRPC } from '@/trpc/react';
import { AppHeader } from './app-header';
import { ConnectionBanner, LiveIndicator } from './connection-banner';
import { EventTimeline } from './event-timeline';
import { NodePanel } from './node-panel';
import { PoolPanel } from './pool-panel';
import { SessionsChart } from './sessions-chart';
import { ToastProvider } from './toasts';

/** The whole live page: pools and workers, the session chart and the event timeline. */
export function Dashboard({ user, fleet = false }: { user: string; fleet?: boolean }) {
  return (
    <NowProvider>
      <ToastProvider>
        <LiveDashboard user={user} fleet={fleet} />
      </ToastProvider>
    </NowProvider>
  );
}

function LiveDashboard({ user, fleet }: { user: string; fleet: boolean }) {
  const series = useSessionSeries();
  const { addSnapshot } = series;
  const onSnapshot = useCallback((snapshot: WorkersSnapshot) => addSnapshot(snapshot), [addSnapshot]);
  const workers = useLiveWorkers(onSnapshot);
  const events = useLiveEvents();
  const connection = useConnectionSummary([workers.link, events.link], [workers.reason, events.reason]);

  // After a gap, fetch the history again so the chart has no hole where the page was away.
  const { refetch } = series;
  const wasDown = useRef(false);
  useEffect(() => {
    if (connection.state === 'down') wasDown.current = true;
    else if (connection.state === 'live' && wasDown.current) {
      wasDown.current = false;
      refetch();
    }
  }, [connection.state, refetch]);

  // Ready and detach times of workers gone from the table too (kept across supervisor restarts).
  const trpc = useTRPC();
  const markers = useQuery({ ...trpc.workers.markers.queryOptions({ minutes: 10 }), retry: retryWhileUnavailable, retryDelay, refetchInterval: 60_000 });
  const snapshot = workers.snapshot;
  const moments = [...(markers.data ?? []), ...(snapshot?.workers ?? [])];
  const running = new Set(snapshot?.workers.filter(isRunning).map((w) => w.id) ?? []);

  return (
    <>
      <AppHeader user={user} indicator={<LiveIndicator state={connection.state} />} fleet={fleet} />
      <main className={`content${connection.state === 'down' ? ' content-stale' : ''}`}>
        <ConnectionBanner state={connection.state} reason={connection.reason} reconnected={connection.reconnected} />
        {snapshot === null ? (
          <section className="panel">
            <p className="muted">{connection.state === 'down' ? 'Waiting for the supervisor…' : 'Loading workers…'}</p>
          </section>
        ) : (
          snapshot.pools.map((pool) => (
            <PoolPanel
              key={pool.name}
              pool={pool}
              workers={snapshot.workers.filter((w) => w.pool === pool.name)}
              samples={series.samples}
              events={events.events}
            />
          ))
        )}
        <NodePanel />
        <div className="lower">
          <section className="panel" aria-labelledby="chart-title">
            <header className="panel-header">
              <h2 id="chart-title">Live sessions per worker</h2>
            </header>
            <SessionsChart samples={series.samples} running={running} events={events.events} moments={moments} />
          </section>
          <EventTimeline events={events.events} loaded={events.loaded} />
        </div>
      </main>
    </>
  );
}
