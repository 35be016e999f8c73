'use client';

import type { EventType, HandoverEvent, RecoveryEventType } from '@handover/process-table';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ANY, type EventFilter, filterChoices, filterEvents, filterInput, mergeEvents } from '@/lib/events';
import { formatAbsolute, formatRelative } from '@/lib/format';
import { useNow } from '@/hooks/use-now';
import { useTRPC } from '@/trpc/react';

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

function FilterSelect({
  label,
  value,
  options,
  onChange,
  describe = (v) => v,
  testId,
}: {
  label: string;
  value: string;
  options: string[];
  onChange: (value: string) => void;
  describe?: (value: string) => string;
  testId: string;
}) {
  return (
    <label className="event-filter">
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
        <option value={ANY}>any</option>
        {value !== ANY && !options.includes(value) ? <option value={value}>{describe(value)}</option> : null}
        {options.map((option) => (
          <option key={option} value={option}>
            {describe(option)}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Who did what, when: newest first, relative time with the exact time on hover; filterable. */
export function EventTimeline({ events, loaded }: { events: HandoverEvent[]; loaded: boolean }) {
  const now = useNow();
  const trpc = useTRPC();
  const [filter, setFilter] = useState<EventFilter>({ worker: ANY, type: ANY, actor: ANY });
  const choices = filterChoices(events);
  const filtered = filter.worker !== ANY || filter.type !== ANY || filter.actor !== ANY;
  // The page keeps the newest 500 events; a filter also asks the supervisor for older matches.
  const older = useQuery({
    ...trpc.events.list.queryOptions({ limit: 200, ...filterInput(filter) }),
    enabled: filtered,
    staleTime: 5000,
    retry: false,
  });
  const shown = filtered ? mergeEvents(filterEvents(events, filter), older.data ?? []) : events;
  const exportHref = `/api/events.ndjson${filtered ? `?${new URLSearchParams(filterInput(filter))}` : ''}`;
  return (
    <section className="panel timeline" aria-labelledby="events-title">
      <header className="panel-header">
        <h2 id="events-title">Events</h2>
        <span className="muted small" data-testid="events-count">
          {events.length === 0 ? null : filtered ? `${shown.length} of the newest ${events.length}` : `newest ${events.length}`}
        </span>
      </header>
      <div className="event-filters" role="group" aria-label="Filter events">
        <FilterSelect label="Worker" value={filter.worker} options={choices.workers} onChange={(worker) => setFilter({ ...filter, worker })} testId="events-filter-worker" />
        <FilterSelect
          label="Type"
          value={filter.type}
          options={choices.types}
          onChange={(type) => setFilter({ ...filter, type })}
          describe={(type) => `${kindOf(type).label} (${type})`}
          testId="events-filter-type"
        />
        <FilterSelect label="Actor" value={filter.actor} options={choices.actors} onChange={(actor) => setFilter({ ...filter, actor })} testId="events-filter-actor" />
        {filtered ? (
          <button type="button" className="button button-ghost" onClick={() => setFilter({ worker: ANY, type: ANY, actor: ANY })}>
            Clear
          </button>
        ) : null}
        <a
          className="button button-ghost events-export"
          href={exportHref}
          download
          title={filtered ? 'Every event matching these filters, as JSON lines' : 'The whole event log, as JSON lines'}
          data-testid="events-export"
        >
          Export
        </a>
      </div>
      {!loaded && events.length === 0 ? <p className="muted">Loading events…</p> : null}
      {loaded && events.length === 0 ? <p className="muted">No events yet.</p> : null}
      {loaded && events.length > 0 && shown.length === 0 ? <p className="muted">No event matches these filters.</p> : null}
      <ol className="events" data-testid="events" aria-live="polite" aria-relevant="additions">
        {shown.map((event) => {
          const at = Date.parse(event.at);
          const kind = kindOf(event.type);
          return (
            <li key={event.id} className={`event event-${kind.tone}`} data-testid="event" data-type={event.type} data-worker={event.worker ?? undefined} data-actor={event.actor}>
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
