/** The defaults parseConfig fills in for what a configuration file leaves out. */
export const DEFAULTS = {
  proxy: { host: '127.0.0.1', port: 8080 },
  control: { host: '127.0.0.1', port: 8090 },
  dataDir: '.handover',
  pool: {
    sessionPathParameter: null,
    routeCookie: 'handover_route',
    idleTimeoutSeconds: 1800,
    maxSessions: 1_000_000,
    sessionCookieDuplicates: 'first',
    sessionReports: false,
    // Off unless a pool sets one; these fill in what a pool's sessionProbe leaves out.
    sessionProbe: null,
    sessionProbeSettings: { pattern: null, intervalSeconds: 5, timeoutSeconds: 2 },
    revision: 'unversioned',
    instances: 1,
    healthCheck: { path: '/healthz', timeoutSeconds: 30, intervalMs: 200, everySeconds: 5, failuresBeforeUnhealthy: 3 },
    stop: { graceSeconds: 10 },
    // A day: no session in normal use is cut (Tomcat waits for sessions without a limit, but they
    // end by their 30 min idle timeout), yet an old revision never lingers for good (what
    // HAProxy's hard-stop-after is set for); null opts out.
    drain: { maxSeconds: 24 * 3600, unconfirmedSeconds: 60 },
    restart: { minUptimeSeconds: 5, maxRestarts: 5, backoffInitialMs: 500, backoffMaxMs: 30_000 },
    logLines: 500,
    logs: { maxBytes: 10 * 1024 * 1024, keep: 3 },
  },
} as const;
