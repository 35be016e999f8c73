'use client';

import { useFleetStatus } from '@/hooks/use-fleet';
import { fleetSummary } from '@/lib/fleet';
import { plural } from '@/lib/format';
import { AppHeader } from './app-header';
import { LiveIndicator } from './connection-banner';
import { FleetNodeCard } from './fleet-node-card';
import { FleetSyncPanel } from './fleet-sync-panel';

/** The /fleet page: every node of the fleet file, the total, and the rolling sync. */
export function FleetView({ user, configured }: { user: string; configured: boolean }) {
  const status = useFleetStatus();
  const answer = status.data ?? null;
  const state = status.isError ? 'down' : answer === null ? 'connecting' : 'live';
  return (
    <>
      <AppHeader user={user} indicator={<LiveIndicator state={state} />} page="fleet" fleet />
      <main className="content">
        {!configured ? (
          <section className="panel" data-testid="fleet-unconfigured">
            <h2>No fleet configured</h2>
            <p className="muted">
              Set <code>HANDOVER_FLEET</code> for the console to a fleet file (<code>handover.fleet.json</code>, the one{' '}
              <code>handover fleet</code> reads) and restart it.
            </p>
          </section>
        ) : (
          <>
            {status.isError ? (
              <div className="banner banner-down" role="alert" data-testid="fleet-error">
                <strong>The fleet cannot be read.</strong> <span className="banner-reason">{status.error.message}</span>
              </div>
            ) : null}
            {answer === null ? (
              <section className="panel">
                <p className="muted">Loading the fleet…</p>
              </section>
            ) : (
              <>
                <FleetTotals nodes={answer.nodes} total={answer.totalSessions} />
                <FleetSyncPanel nodes={answer.nodes.map((n) => n.name)} />
                <div className="fleet-nodes">
                  {answer.nodes.map((view) => (
                    <FleetNodeCard key={view.name} view={view} />
                  ))}
                </div>
              </>
            )}
          </>
        )}
      </main>
    </>
  );
}

function FleetTotals({ nodes, total }: { nodes: Parameters<typeof fleetSummary>[0]; total: number }) {
  const summary = fleetSummary(nodes);
  return (
    <section className="panel fleet-totals" aria-label="Fleet totals" data-testid="fleet-totals">
      <p>
        <strong data-testid="fleet-total-sessions">{total}</strong> {total === 1 ? 'session' : 'sessions'} across {plural(nodes.length, 'node')}
      </p>
      <p className="muted small">
        {summary.reachable} of {nodes.length} answering · {summary.notTaking} not taking new clients · {summary.drifting} out of sync
      </p>
    </section>
  );
}
