import type { HandoverEvent } from '@handover/process-table';

/** The timeline's filters (#10, item 9); '' (ANY) matches every event. */
export interface EventFilter {
  worker: string;
  type: string;
  actor: string;
}

export const ANY = '';

/** The events matching every chosen filter ('' = any). */
export function filterEvents(events: readonly HandoverEvent[], filter: EventFilter): HandoverEvent[] {
  return events.filter(
    (event) =>
      (filter.worker === ANY || event.worker === filter.worker) &&
      (filter.type === ANY || event.type === filter.type) &&
      (filter.actor === ANY || event.actor === filter.actor),
  );
}

/** The values each filter can take, from the events on the page. */
export function filterChoices(events: readonly HandoverEvent[]): { workers: string[]; types: string[]; actors: string[] } {
  const workers = new Set<string>();
  const types = new Set<string>();
  const actors = new Set<string>();
  for (const event of events) {
    if (event.worker !== null) workers.add(event.worker);
    types.add(event.type);
    actors.add(event.actor);
  }
  const numeric = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
  return { workers: [...workers].sort(numeric), types: [...types].sort(), actors: [...actors].sort() };
}

