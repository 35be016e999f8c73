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


/** The filters the supervisor takes (events.list, /events.ndjson): only those set. */
export function filterInput(filter: EventFilter): { worker?: string; type?: string; actor?: string } {
  const out: { worker?: string; type?: string; actor?: string } = {};
  if (filter.worker !== ANY) out.worker = filter.worker;
  if (filter.type !== ANY) out.type = filter.type;
  if (filter.actor !== ANY) out.actor = filter.actor;
  return out;
}

/** Two lists of events as one, newest first, each event once. */
export function mergeEvents(a: readonly HandoverEvent[], b: readonly HandoverEvent[]): HandoverEvent[] {
  const byId = new Map<number, HandoverEvent>();
  for (const event of [...a, ...b]) byId.set(event.id, event);
  return [...byId.values()].sort((x, y) => y.id - x.id);
}
