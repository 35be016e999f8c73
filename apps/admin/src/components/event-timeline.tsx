'use client';

import type { EventType, HandoverEvent, RecoveryEventType } from '@handover/process-table';
import { formatAbsolute, formatRelative } from '@/lib/format';
import { useNow } from '@/hooks/use-now';

/** How each kind of event looks: a short label and a tone for its marker. */
const KINDS: Record<EventType | RecoveryEventType, { label: string; tone: 'info' | 'good' | 'warn' | 'bad' | 'action' }> = {
  'supervisor.started': { label: 'supervisor', tone: 'info' },
  'supervisor.stopping': { label: 'supervisor', tone: 'warn' },
  'supervisor.stopped': { label: 'supervisor', tone: 'info' },
  'worker.starting': { label: 'starting', tone: 'info' },
  'worker.started': { label: 'ready', tone: 'good' },
  'worker.failed': { label: 'failed', tone: 'bad' },
  'worker.detached': { label: 'detached', tone: 'warn' },
  'worker.reattached': { label: 'reattached', tone: 'good' },
  'worker.drained': { label: 'drained', tone: 'good' },
  'worker.stopping': { label: 'stopping', tone: 'info' },
  'worker.stopped': { label: 'stopped', tone: 'info' },
  'worker.crashed': { label: 'crashed', tone: 'bad' },
  'worker.killed': { label: 'killed', tone: 'bad' },
  'worker.unhealthy': { label: 'unhealthy', tone: 'bad' },
  'worker.healthy': { label: 'healthy again', tone: 'good' },
  'worker.adopted': { label: 're-adopted', tone: 'good' },
  'worker.lost': { label: 'lost', tone: 'bad' },
  'sessions.lost': { label: 'sessions lost', tone: 'bad' },
  'pool.backoff': { label: 'backoff', tone: 'warn' },
  'pool.errored': { label: 'errored', tone: 'bad' },
  'pool.synced': { label: 'sync', tone: 'good' },
  'config.reloaded': { label: 'config', tone: 'info' },
  'config.rejected': { label: 'config rejected', tone: 'bad' },
  action: { label: 'action', tone: 'action' },
  'supervisor.crashLoop': { label: 'crash loop', tone: 'bad' },
  'sessions.reconciled': { label: 'sessions reconciled', tone: 'info' },
  'sessions.limit': { label: 'session limit', tone: 'warn' },
  'proxy.fault': { label: 'proxy fault', tone: 'bad' },
};

function kindOf(type: string): { label: string; tone: string } {
  return KINDS[type as EventType | RecoveryEventType] ?? { label: type, tone: 'info' };
}

/** Who did what, when: newest first, relative time with the exact time on hover. */
export function EventTimeline({ events, loaded }: { events: HandoverEvent[]; loaded: boolean }) {
  const now = useNow();
  return (
    <section className="panel timeline" aria-labelledby="events-title">
      <header className="panel-header">
        <h2 id="events-title">Events</h2>
        <span className="muted small">{events.length > 0 ? `newest ${events.length}` : null}</span>
      </header>
      {!loaded && events.length === 0 ? <p className="muted">Loading events…</p> : null}
      {loaded && events.length === 0 ? <p className="muted">No events yet.</p> : null}
      <ol className="events" data-testid="events" aria-live="polite" aria-relevant="additions">
        {events.map((event) => {
          const at = Date.parse(event.at);
          const kind = kindOf(event.type);
          return (
            <li key={event.id} className={`event event-${kind.tone}`} data-testid="event" data-type={event.type}>
              <span className="event-marker" aria-hidden="true" />
              <div className="event-main">
                <p className="event-message">{event.message}</p>
                <p className="event-meta">
                  <span className={`event-kind event-kind-${kind.tone}`}>{kind.label}</span>
                  <span>
                    by <span className={event.actor === 'supervisor' ? undefined : 'event-actor'}>{event.actor}</span>
                  </span>
                  <time dateTime={event.at} title={formatAbsolute(at)}>
                    {formatRelative(at, now)}
                  </time>
                </p>
              </div>
            </li>
          );
        })}
      </ol>
    </section>
  );
}
