import type { ProxyOptions, Route, Upstream } from '../types';
import type { ClientConn } from './client-connection';
import type { Exchange } from './exchange';
import { ResponseMetrics } from './response-metrics';
import type { UpConn } from './worker-connection';

/**
 * Every phase has a timeout and every resource a limit. Defaults follow HAProxy and nginx
 * (their names in brackets); 0 turns a timeout or a count limit off. The table with the reasoning
 * is in packages/proxy/README.md ("Limits and timeouts").
 */
export const DEFAULTS = {
  /** Client head (nginx client_header_timeout 60 s, HAProxy timeout http-request). */
  headersTimeoutMs: 30_000,
  /** Whole request incl. body; off, as nginx: a slow but steady upload is fine (the body idle limit catches a stall). */
  requestTimeoutMs: 0,
  /** Client body, between two reads (nginx client_body_timeout 60 s). */
  bodyIdleTimeoutMs: 60_000,
  /** Idle client keep-alive connection (nginx keepalive_timeout 75 s; node 5 s). */
  keepAliveTimeoutMs: 5_000,
  /** A client that stops reading our answer (nginx send_timeout 60 s). */
  sendTimeoutMs: 60_000,
  /** TCP connect to a worker (nginx proxy_connect_timeout 60 s, HAProxy timeout connect). */
  upstreamConnectTimeoutMs: 5_000,
  /** The worker's response head after the request was sent (nginx proxy_read_timeout 60 s, HAProxy timeout server). */
  responseTimeoutMs: 60_000,
  /** The worker's response body, between two reads (nginx proxy_read_timeout). */
  upstreamIdleTimeoutMs: 60_000,
  /** WebSocket handshake answer from the worker. */
  upgradeTimeoutMs: 10_000,
  /** An open WebSocket with no bytes either way (HAProxy timeout tunnel, commonly 1 h). */
  tunnelIdleTimeoutMs: 3_600_000,
  connectionsCheckingIntervalMs: 1_000,
  /** Request head bytes (HAProxy tune.bufsize 16 KiB; nginx large_client_header_buffers 8 KiB lines). */
  maxHeaderSize: 16_384,
  /** Request header lines (HAProxy tune.http.maxhdr 101). */
  maxHeaderCount: 100,
  /** Worker response head bytes (nginx proxy_buffer_size; larger → 502). */
  maxResponseHeaderSize: 65_536,
  /** Open client connections, all together (HAProxy maxconn; nginx worker_connections 512). */
  maxConnections: 10_000,
  /** Open client connections from one address (nginx limit_conn; behind a front proxy raise it or 0). */
  maxConnectionsPerClient: 1_000,
  /** Open connections to one worker (HAProxy server maxconn; nginx max_conns); more requests wait. */
  maxConnectionsPerWorker: 1_024,
  /** A request waiting for one of those connections → 503 (HAProxy timeout queue). */
  queueTimeoutMs: 10_000,
  /** Idle limit of a pooled worker connection when the worker announces no keep-alive timeout. */
  upstreamKeepAliveMs: 4_000,
  /**
   * Idle limit when the worker announces `Keep-Alive: timeout=N` (N − 1 s), at most this (as
   * nginx's upstream keepalive_timeout). A pool that outlives a pause means a burst of new client
   * connections does not also open a burst of worker connections (see NOTES.md, p99 at 200).
   */
  upstreamKeepAliveHintedMaxMs: 60_000,
};

/** Idle worker connections kept per worker; more are closed (as http.Agent's maxFreeSockets). */
export const MAX_IDLE_PER_UPSTREAM = 256;

/** A worker's connections: the idle ones (most recently used last) and how many are open. */
export interface WorkerPool {
  readonly idle: UpConn[];
  open: number;
  /** Exchanges waiting for a connection while `open` is at maxConnectionsPerWorker, oldest first. */
  readonly waiting: Exchange[];
}

export interface EngineState {
  readonly route: Route;
  readonly onRelease: ((upstream: Upstream) => void) | undefined;
  readonly onError: (error: unknown) => void;
  readonly trustForwarded: boolean;
  /** close() was called: answer with Connection: close, refuse new upgrades. */
  closing: boolean;
  /** Open WebSocket tunnels, destroyed by close(). */
  readonly tunnels: Set<{ destroy(): void }>;
  readonly connectTimeoutMs: number;
  readonly upgradeTimeoutMs: number;
  readonly tunnelIdleTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly bodyIdleTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** When an idle client connection is closed: a second after the timeout it announces, if it announces one. */
  readonly keepAliveCloseMs: number;
  /** How a kept-alive answer's head ends: `Keep-Alive: timeout=N` (whole seconds of keepAliveTimeoutMs, ≥ 1) and the blank line. */
  readonly keepAliveHeadEnd: string;
  readonly sendTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly upstreamIdleTimeoutMs: number;
  readonly maxHeaderSize: number;
  readonly maxHeaderCount: number;
  readonly maxResponseHeaderSize: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  readonly maxConnectionsPerWorker: number;
  readonly queueTimeoutMs: number;
  readonly upstreamKeepAliveMs: number;
  /** The most a worker's Keep-Alive hint may keep a pooled connection idle. */
  readonly upstreamKeepAliveHintedMaxMs: number;
  /** Requests received and not yet finished (healthz and error answers included). */
  active: number;
  idle: (() => void) | undefined;
  readonly conns: Set<ClientConn>;
  /** Open client connections per remote address (only while maxConnectionsPerClient is on). */
  readonly perClient: Map<string, number>;
  /** Worker connections per worker. */
  readonly pools: Map<Upstream, WorkerPool>;
  /** Counters for stats(): faults caught by the guard, connections refused, timeouts. */
  readonly counters: EngineCounters;
  /** Responses by status class and time to the response head, for /metrics. */
  readonly responses: ResponseMetrics;
  /** Fault signatures already logged with their stack (a repeated fault is only counted). */
  readonly faultsLogged: Set<string>;
}

export interface EngineCounters {
  faults: number;
  refusedConnections: number;
  timeouts: number;
}

function pick(value: number | undefined, fallback: number): number {
  return value === undefined || !Number.isFinite(value) || value < 0 ? fallback : value;
}

/**
 * A client reusing a connection at the moment the proxy closes it gets a reset, which it cannot
 * tell from a failed request. So the proxy announces its keep-alive timeout, which Node's
 * http.Agent and other clients keep to, and closes the connection only a second after it — as
 * Node's own http server does. Below a second there is nothing to announce: closed on time.
 */
const KEEP_ALIVE_GRACE_MS = 1000;

function keepAliveAnnouncement(keepAliveTimeoutMs: number): { keepAliveCloseMs: number; keepAliveHeadEnd: string } {
  const seconds = Math.floor(keepAliveTimeoutMs / 1000);
  if (seconds < 1) return { keepAliveCloseMs: keepAliveTimeoutMs, keepAliveHeadEnd: '\r\n' };
  return { keepAliveCloseMs: keepAliveTimeoutMs + KEEP_ALIVE_GRACE_MS, keepAliveHeadEnd: `Keep-Alive: timeout=${seconds}\r\n\r\n` };
}

export function createState(options: ProxyOptions): EngineState {
  const requestTimeoutMs = pick(options.requestTimeoutMs, DEFAULTS.requestTimeoutMs);
  const keepAliveTimeoutMs = pick(options.keepAliveTimeoutMs, DEFAULTS.keepAliveTimeoutMs);
  let headersTimeoutMs = pick(options.headersTimeoutMs, DEFAULTS.headersTimeoutMs);
  if (requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) headersTimeoutMs = requestTimeoutMs;
  return {
    route: options.route,
    onRelease: options.onRelease,
    onError: options.onError ?? ((error) => console.error('[handover proxy]', error)),
    connectTimeoutMs: pick(options.upstreamConnectTimeoutMs, DEFAULTS.upstreamConnectTimeoutMs),
    upgradeTimeoutMs: pick(options.upgradeTimeoutMs, DEFAULTS.upgradeTimeoutMs),
    tunnelIdleTimeoutMs: pick(options.tunnelIdleTimeoutMs, DEFAULTS.tunnelIdleTimeoutMs),
    trustForwarded: options.trustForwardedHeaders ?? false,
    closing: false,
    tunnels: new Set(),
    headersTimeoutMs,
    requestTimeoutMs,
    bodyIdleTimeoutMs: pick(options.bodyIdleTimeoutMs, DEFAULTS.bodyIdleTimeoutMs),
    keepAliveTimeoutMs,
    ...keepAliveAnnouncement(keepAliveTimeoutMs),
    sendTimeoutMs: pick(options.sendTimeoutMs, DEFAULTS.sendTimeoutMs),
    responseTimeoutMs: pick(options.responseTimeoutMs, DEFAULTS.responseTimeoutMs),
    upstreamIdleTimeoutMs: pick(options.upstreamIdleTimeoutMs, DEFAULTS.upstreamIdleTimeoutMs),
    maxHeaderSize: pick(options.maxHeaderSize, DEFAULTS.maxHeaderSize),
    maxHeaderCount: pick(options.maxHeaderCount, DEFAULTS.maxHeaderCount),
    maxResponseHeaderSize: pick(options.maxResponseHeaderSize, DEFAULTS.maxResponseHeaderSize),
    maxConnections: pick(options.maxConnections, DEFAULTS.maxConnections),
    maxConnectionsPerClient: pick(options.maxConnectionsPerClient, DEFAULTS.maxConnectionsPerClient),
    maxConnectionsPerWorker: pick(options.maxConnectionsPerWorker, DEFAULTS.maxConnectionsPerWorker),
    queueTimeoutMs: pick(options.queueTimeoutMs, DEFAULTS.queueTimeoutMs),
    upstreamKeepAliveMs: pick(options.upstreamKeepAliveMs, DEFAULTS.upstreamKeepAliveMs),
    // An explicit upstreamKeepAliveMs caps the hinted limit too.
    upstreamKeepAliveHintedMaxMs: pick(options.upstreamKeepAliveMs, DEFAULTS.upstreamKeepAliveHintedMaxMs),
    active: 0,
    idle: undefined,
    conns: new Set(),
    perClient: new Map(),
    pools: new Map(),
    counters: { faults: 0, refusedConnections: 0, timeouts: 0 },
    responses: new ResponseMetrics(),
    faultsLogged: new Set(),
  };
}

/** One fewer request under way; wakes close() when none is left. */
export function endActive(state: EngineState): void {
  state.active--;
  if (state.active === 0 && state.idle !== undefined) state.idle();
}

/** Tells the supervisor a draining worker lost a request or a WebSocket; its errors never reach the socket code. */
export function notifyRelease(state: EngineState, upstream: Upstream): void {
  if (!upstream.draining || state.onRelease === undefined) return;
  try {
    state.onRelease(upstream);
  } catch (error) {
    state.onError(error);
  }
}
