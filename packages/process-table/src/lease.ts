/**
 * What keeps a worker from stopping (Z2's "lease"): its sessions, its requests under way and
 * its open WebSockets. Each count has one writer — the session table counts sessions, the proxy
 * requests and WebSockets — and changes only through these methods; `empty` says when a
 * detached worker has drained. Plain number fields behind the methods: the proxy calls them on
 * every request, so they must stay monomorphic and allocation-free.
 */
export class Lease {
  private sessionCount = 0;
  private requestCount = 0;
  private webSocketCount = 0;

  get sessions(): number {
    return this.sessionCount;
  }

  get inFlight(): number {
    return this.requestCount;
  }

  get webSockets(): number {
    return this.webSocketCount;
  }

  /** Nothing left: no session, no request under way, no WebSocket open. */
  get empty(): boolean {
    return this.sessionCount <= 0 && this.requestCount <= 0 && this.webSocketCount <= 0;
  }

  /** The session table bound `count` sessions to this worker. */
  sessionsBound(count: number): void {
    this.sessionCount += count;
  }

  /** The session table released `count` of this worker's sessions. */
  sessionsReleased(count: number): void {
    this.sessionCount -= count;
  }

  /** The proxy dispatched a request to this worker. */
  requestStarted(): void {
    this.requestCount++;
  }

  /** A request dispatched to this worker finished (answered, failed or abandoned). */
  requestFinished(): void {
    this.requestCount--;
  }

  webSocketOpened(): void {
    this.webSocketCount++;
  }

  webSocketClosed(): void {
    this.webSocketCount--;
  }
}
