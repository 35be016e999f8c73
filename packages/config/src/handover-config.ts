/** The loaded configuration's shape: what parseConfig returns, every default filled in. */
import type { ConfigWarning } from './errors';

export interface ListenConfig {
  host: string;
  port: number;
}

/** The proxy's own settings; unset timeouts and limits keep the proxy's defaults (packages/proxy README). */
export interface ProxyConfig extends ListenConfig {
  /** A trusted proxy in front: its Forwarded / X-Forwarded-* / X-Real-IP are kept. */
  trustForwarded: boolean;
  timeouts: Partial<Record<ProxyTimeout, number>>;
  limits: Partial<Record<ProxyLimit, number>>;
}

export type ProxyTimeout =
  | 'headerSeconds'
  | 'requestSeconds'
  | 'bodyIdleSeconds'
  | 'keepAliveSeconds'
  | 'sendSeconds'
  | 'connectSeconds'
  | 'responseSeconds'
  | 'upstreamIdleSeconds'
  | 'upgradeSeconds'
  | 'tunnelIdleSeconds'
  | 'queueSeconds';

export type ProxyLimit =
  | 'maxConnections'
  | 'maxConnectionsPerClient'
  | 'maxConnectionsPerWorker'
  | 'maxHeaderBytes'
  | 'maxHeaderCount'
  | 'maxResponseHeaderBytes';

export interface HandoverConfig {
  proxy: ProxyConfig;
  control: ListenConfig;
  /** Absolute. */
  dataDir: string;
  pools: PoolConfig[];
  /** Absolute path of the file this was loaded from. */
  configPath: string;
  /**
   * Problems that do not stop Handover but may bite later (e.g. a basePort inside the ephemeral
   * port range), each naming its field. `handover start` prints them; the supervisor records them.
   */
  warnings: ConfigWarning[];
}

export interface PoolConfig {
  /** /^[a-z][a-z0-9-]{0,31}$/, unique. */
  name: string;
  /** Run through the shell. */
  command: string;
  /** Absolute; relative paths in the file resolve against the config file's directory (the default). */
  cwd: string;
  /** Extra environment for workers. */
  env: Record<string, string>;
  /** Worker port = basePort + generation (skipping ports in use). */
  basePort: number;
  /**
   * Public port of this pool's proxy (on proxy.host). null: proxy.port, which only the first pool
   * may use; every further pool needs a proxyPort of its own (the proxy routes by port, not by host).
   */
  proxyPort: number | null;
  /** e.g. JSESSIONID. */
  sessionCookie: string;
  /** e.g. "jsessionid" to read ";jsessionid=ID" from the URL path; null: cookie only. */
  sessionPathParameter: string | null;
  /** The proxy's signed cookie naming the worker of a session (restores bindings lost by a kill -9); null: none. */
  routeCookie: string | null;
  idleTimeoutSeconds: number;
  /**
   * Most sessions the proxy keeps bound for this pool (memory and the state journal stay bounded);
   * a new one beyond makes room by evicting the least recently used one that has no request or
   * WebSocket under way and is not on a detached worker, or goes untracked (warned once).
   */
  maxSessions: number;
  /** Which of several session cookies in one request counts, as the app decides: 'first' (PHP, Express, Tomcat) or 'last' (Django). */
  sessionCookieDuplicates: 'first' | 'last';
  /**
   * The app reports every session it makes and ends (X-Handover-Session: the demo, the
   * integrations), so the proxy never guesses one from a request. Without it, an id the app
   * adopted silently (PHP does) is learned from the request; a report from any worker of the
   * pool turns that off too.
   */
  sessionReports: boolean;
  /**
   * The app's own session count, asked for on each running (started or detached) worker's port
   * every `intervalSeconds` (one GET at a time, `timeoutSeconds` each, `headers` sent with it):
   * `pattern`'s first capture group (compiled with the `m` flag) is the count; without one, a
   * JSON answer's number or top-level `"sessions"` number, else the first whole number in the
   * body. Shown beside Handover's count; a detached worker whose app says 0, with no request or
   * WebSocket open, has drained whatever cookie accounting still counts. null: no probe.
   */
  sessionProbe: SessionProbeConfig | null;
  /** The revision label new workers start on. */
  revision: string;
  /** Attached instances wanted. */
  instances: number;
  /**
   * `timeoutSeconds`/`intervalMs`: how long and how often a starting worker is polled until it is
   * ready. `everySeconds`: then, how often a running (started or detached) worker is probed for
   * liveness, off the proxy's path; after `failuresBeforeUnhealthy` failed probes in a row it is
   * unhealthy (an attached one is replaced like a crash).
   */
  healthCheck: { path: string; timeoutSeconds: number; intervalMs: number; everySeconds: number; failuresBeforeUnhealthy: number };
  stop: { graceSeconds: number };
  /**
   * `maxSeconds`: a detached worker is stopped after this long even with sessions left; null:
   * wait for the last session, however long. `unconfirmedSeconds`: after a supervisor restart,
   * bindings restored from the store keep a detached worker alive for at most this long (capped
   * by the idle timeout) unless a request or the app's report confirms them; null: until they
   * expire.
   */
  drain: { maxSeconds: number | null; unconfirmedSeconds: number | null };
  restart: { minUptimeSeconds: number; maxRestarts: number; backoffInitialMs: number; backoffMaxMs: number };
  /** Last output lines kept per worker. */
  logLines: number;
  /**
   * Size-based rotation of each worker's log files (`<dataDir>/logs/<worker>.out.log`,
   * `.err.log`): once a file is over `maxBytes` it is copied to `<file>.1` (older copies shift to
   * `.2` … `.keep`; the oldest is deleted) and emptied in place. `keep` 0: emptied, no copy kept.
   */
  logs: { maxBytes: number; keep: number };
}

export interface SessionProbeConfig {
  /** e.g. "/stats"; with its query string if any. */
  path: string;
  /** A regular expression whose first capture group is the count; null: the default reading. */
  pattern: string | null;
  intervalSeconds: number;
  timeoutSeconds: number;
  /** Extra request headers, e.g. Authorization for Tomcat's manager. */
  headers: Record<string, string>;
}

/**
 * The public port of pool `index`: its own `proxyPort`, or `proxy.port` for the first pool.
 * Undefined only for a later pool without one, which parseConfig refuses.
 */
export function poolProxyPort(config: HandoverConfig, index: number): number | undefined {
  return config.pools[index]?.proxyPort ?? (index === 0 ? config.proxy.port : undefined);
}
