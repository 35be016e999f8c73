import type { SessionCount, SessionOwner, SessionTable } from '@handover/session-table';
import type { RouteCookie } from './passes/route-cookie';

/** A worker as the proxy sees it. The supervisor's worker objects implement this and set the flags. */
export interface Upstream extends SessionOwner {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Alive and ready: may serve its bound sessions (started or detached). False while starting/stopping/dead. */
  routable: boolean;
  /** Detached: the proxy calls onRelease(upstream) when its requests or WebSockets go down. */
  draining: boolean;
  /** Counts its sessions (the session table), requests and WebSockets (the proxy). */
  readonly lease: UpstreamLease;
}

/** The proxy's part of an upstream's lease (process-table's `Lease` is one). */
export interface UpstreamLease extends SessionCount {
  /** Requests dispatched and not yet finished. */
  readonly inFlight: number;
  /** Open upgraded connections. */
  readonly webSockets: number;
  requestStarted(): void;
  requestFinished(): void;
  webSocketOpened(): void;
  webSocketClosed(): void;
}

/** One pool as the proxy sees it; the supervisor mutates `target` atomically when it switches workers. */
export interface Route {
  readonly sessionCookie: string;
  /** Also read the id from ";<param>=ID" in the URL path, servlet style (e.g. "jsessionid"). */
  readonly sessionPathParameter?: string;
  /** ttl given to sessions bound from Set-Cookie. */
  readonly idleTimeoutMs: number;
  readonly sessions: SessionTable<Upstream>;
  /** Where requests without a live session go; undefined (or not routable) → 503. */
  target: Upstream | undefined;
  /**
   * A pool of several attached instances: new sessions go to the one of these with the fewest
   * live sessions (ties in turn). Absent or fewer than two: `target` alone.
   */
  targets?: readonly Upstream[];
  /**
   * Bind an id the table did not know to the worker that answered it without replacing it (an
   * app that adopts ids silently, like PHP). Default true; false for apps that report their
   * sessions (X-Handover-Session), and off by itself once any worker of the route reported.
   */
  readonly learnSessions?: boolean;
  /** Signed route cookie that restores a binding the table lost (supervisor kill -9); off when undefined. */
  readonly routeCookie?: RouteCookie;
  /** Which of several `sessionCookie` cookies in one request counts, as the app decides: default 'first' (see find-session.ts). */
  readonly sessionCookieDuplicates?: 'first' | 'last';
}

export interface ProxyOptions {
  route: Route;
  /** Only called for draining upstreams, after their inFlight or webSockets went down. */
  onRelease?: (upstream: Upstream) => void;
  /** Unexpected errors (a throwing onRelease, a bug); never per-request noise. Default: console.error. */
  onError?: (error: unknown) => void;
  // Timeouts (ms; 0 = off) and limits (0 = none). Defaults and their HAProxy/nginx
  // counterparts: engine/state.ts DEFAULTS, and the table in README.md.
  /** Time allowed for a client to send the request head (slowloris) → 408. Default 30 s. */
  headersTimeoutMs?: number;
  /** Time allowed for a client to send the whole request, body included → 408. Default off. */
  requestTimeoutMs?: number;
  /** Time allowed between two reads of a request body → 408. Default 60 s. */
  bodyIdleTimeoutMs?: number;
  /** How often the timeouts are checked. Default 1 s. */
  connectionsCheckingIntervalMs?: number;
  /** Idle time before a client keep-alive connection is closed. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** A client that takes no bytes of its answer for this long is cut. Default 60 s. */
  sendTimeoutMs?: number;
  /** Largest request head accepted (bytes), larger → 431. Default 16 KiB. */
  maxHeaderSize?: number;
  /** Most request header lines, more → 431. Default 100. */
  maxHeaderCount?: number;
  /** Largest worker response head (bytes), larger → 502. Default 64 KiB. */
  maxResponseHeaderSize?: number;
  /** Open client connections; more are answered 503 and closed. Default 10,000. */
  maxConnections?: number;
  /** Open client connections from one address; more → 503. Default 1,000. */
  maxConnectionsPerClient?: number;
  /** Open connections to one worker; a request that would need another waits for one. Default 1,024. */
  maxConnectionsPerWorker?: number;
  /** Time a request may wait for one of those connections → 503. Default 10 s. */
  queueTimeoutMs?: number;
  /** Time allowed to open a TCP connection to a worker. Default 5 s. */
  upstreamConnectTimeoutMs?: number;
  /** Time allowed for the worker's response head once the request is sent → 504. Default 60 s. */
  responseTimeoutMs?: number;
  /** Time allowed between two reads of a worker's response body (then the client is cut). Default 60 s. */
  upstreamIdleTimeoutMs?: number;
  /** Time allowed for the worker's answer to a WebSocket handshake → 504. Default 10 s. */
  upgradeTimeoutMs?: number;
  /** An open WebSocket with no bytes either way for this long is closed. Default 1 h. */
  tunnelIdleTimeoutMs?: number;
  /**
   * Idle time after which a pooled (free) upstream connection is closed; keep it below the
   * workers' own keep-alive timeout (Node's default is 5 s) so we never write on a socket
   * the worker is closing. Default 4 s. The lean engine, by default, follows a worker's
   * `Keep-Alive: timeout=N` instead (N − 1 s, at most 60 s; Node's default N = 5 gives 4 s);
   * when this option is set it also caps that.
   */
  upstreamKeepAliveMs?: number;
  /**
   * A trusted proxy sits in front: keep the client's Forwarded, X-Real-IP and X-Forwarded-*
   * (appending to X-Forwarded-For). Default false: they are dropped and replaced by the proxy's own.
   */
  trustForwardedHeaders?: boolean;
}

export interface ProxyStats {
  clientConnections: number;
  /** Client connections whose answer waits for them to read (the send timeout runs). */
  stalledClients: number;
  workerConnections: number;
  tunnels: number;
  requestsInFlight: number;
  /** Exceptions caught by the fault guard (each cost one connection, never the process). */
  faults: number;
  /** Client connections refused by maxConnections / maxConnectionsPerClient. */
  refusedConnections: number;
  /** Exchanges or connections ended by a timeout. */
  timeouts: number;
  /** Responses by status class and time to the response head (since the proxy started). */
  responses: import('./engine/response-metrics').ResponseMetricsSnapshot;
}

export interface ProxyServer {
  readonly server: import('node:http').Server;
  /**
   * Resolves the bound port (port 0 → ephemeral); host defaults to 127.0.0.1. With `fd`, listens
   * on that inherited, already bound socket instead (the keeper's; port and host are then only names).
   */
  listen(port: number, host?: string, fd?: number): Promise<number>;
  /** Counters and gauges (cheap: read on demand, nothing per request). */
  stats(): ProxyStats;
  /**
   * Stop accepting, let in-flight requests finish for up to graceMs, then destroy what is left
   * (incl. websockets). With `keepTunnels`, open WebSockets stay up (their workers' own close
   * frames can still pass while the workers stop) until `closeTunnels()`.
   */
  close(graceMs?: number, options?: { keepTunnels?: boolean }): Promise<void>;
  /** Destroys the WebSockets a `close({ keepTunnels: true })` left open; resolves once all is closed. */
  closeTunnels(): Promise<void>;
}
