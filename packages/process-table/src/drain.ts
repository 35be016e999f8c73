/** What keeps a detached worker alive (Z2's "lease"): open sessions, requests, WebSockets. */
export interface Lease {
  sessions: number;
  inFlight: number;
  webSockets: number;
}

export function isDrained(lease: Lease): boolean {
  return lease.sessions <= 0 && lease.inFlight <= 0 && lease.webSockets <= 0;
}

/** Picks the worker new sessions go to: the newest (highest generation) attached, ready one. */
export function newestStarted<W extends { state: string; generation: number }>(
  workers: Iterable<W>,
): W | undefined {
  let newest: W | undefined;
  for (const worker of workers) {
    if (worker.state !== 'started') continue;
    if (newest === undefined || worker.generation > newest.generation) newest = worker;
  }
  return newest;
}
