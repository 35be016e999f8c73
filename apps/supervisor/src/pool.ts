import type { PoolConfig } from '@handover/config';
import { CrashTracker, type DeployFailure, type PoolDrift, type PoolInfo, type PoolRows, type PoolStatus } from '@handover/process-table';
import type { Route, Upstream } from '@handover/proxy';
import { type SessionLimitInfo, SessionTable } from '@handover/session-table';
import { RestoredSessions } from './restored-sessions';
import type { StateStore } from './state-store';
import type { Worker } from './worker';

/** The proxy's view of a pool, with the fields a sync may change left writable. */
interface PoolRoute extends Route {
  idleTimeoutMs: number;
}

export interface PoolOptions {
  config: PoolConfig;
  /** This pool's rows in the process table. */
  rows: PoolRows<Worker>;
  /** The session journal: it follows the table as a listener. */
  journal: StateStore | null;
  /** Key of the signed route cookie; none without one. */
  routeKey: Buffer | undefined;
  /** A draining worker's session count went down: its drain may be over. */
  onDrainProgress: (worker: Worker) => void;
  onLimit: (pool: Pool, info: SessionLimitInfo) => void;
}

/** One configured pool at run time: its rows, its session table, its route and its crash policy. */
export class Pool {
  config: PoolConfig;
  readonly rows: PoolRows<Worker>;
  readonly sessions: SessionTable<Upstream>;
  /** Sessions restored after a restart and not yet seen in use (see RestoredSessions). */
  readonly restored: RestoredSessions<Upstream>;
  readonly route: PoolRoute;
  readonly crashes: CrashTracker;
  status: PoolStatus = 'ok';
  lastError: string | null = null;
  nextRestartAt: Date | null = null;
  restartTimer: NodeJS.Timeout | null = null;
  sessionsLost = 0;
  /** The last start of a worker failed (cleared by the next one that becomes ready). */
  deployFailure: DeployFailure | null = null;
  /** The operation in progress (a start is not instant); a second one gets CONFLICT. */
  busy: string | null = null;

  constructor({ config, rows, journal, routeKey, onDrainProgress, onLimit }: PoolOptions) {
    this.config = config;
    this.rows = rows;
    this.sessions = new SessionTable<Upstream>({
      // Read at start: a sync does not resize a table.
      maxSessions: config.maxSessions,
      onLimit: (info) => onLimit(this, info),
      onRelease: (upstream) => {
        if (upstream.draining) onDrainProgress(upstream as Worker);
      },
    });
    // The journal follows the table (no I/O here: the store writes on its own flush).
    if (journal !== null) {
      this.sessions.subscribe({
        bound: (id, owner, ttlMs) => journal.bound(id, owner as Worker, ttlMs),
        released: (id) => journal.released(id),
      });
    }
    this.restored = new RestoredSessions(this.sessions);
    this.route = {
      sessionCookie: config.sessionCookie,
      sessionPathParameter: config.sessionPathParameter ?? undefined,
      sessionCookieDuplicates: config.sessionCookieDuplicates,
      learnSessions: !config.sessionReports,
      idleTimeoutMs: config.idleTimeoutSeconds * 1000,
      sessions: this.sessions,
      target: undefined,
      routeCookie:
        routeKey === undefined || config.routeCookie === null
          ? undefined
          : { name: config.routeCookie, key: routeKey, upstream: (id) => this.rows.workers.find((worker) => worker.id === id) },
    };
    this.crashes = new CrashTracker(crashPolicy(config));
  }

  get name(): string {
    return this.config.name;
  }

  get workers(): readonly Worker[] {
    return this.rows.workers;
  }

  /** Takes a sync's configuration (the session and route cookies stay: they take a restart). */
  reconfigure(config: PoolConfig): void {
    this.config = config;
    this.route.idleTimeoutMs = config.idleTimeoutSeconds * 1000;
    this.crashes.reconfigure(crashPolicy(config));
  }

  /** Wants another attached worker (fewer starting or started than `instances`). */
  wantsWorker(): boolean {
    return this.rows.attachedCount() < this.config.instances;
  }

  /**
   * `file`: the pool's entry in the configuration file as it is now (the last good one);
   * `configError`: why the file does not parse now; `drift`: what differs (drift.ts).
   */
  info(file: PoolConfig = this.config, configError: string | null = null, drift: PoolDrift | null = null, runningRevisions: string[] = []): PoolInfo {
    return {
      name: this.name,
      revision: file.revision,
      command: file.command,
      sessionCookie: this.config.sessionCookie,
      instances: this.config.instances,
      attached: this.rows.attachedCount(),
      status: this.status,
      restarts: this.crashes.unstableRestarts,
      nextRestartAt: this.nextRestartAt?.toISOString() ?? null,
      lastError: this.lastError,
      sessionsLost: this.sessionsLost,
      sessionProbe: this.config.sessionProbe?.path ?? null,
      runningRevisions,
      drift,
      configError,
      deployFailure: this.deployFailure,
    };
  }
}

function crashPolicy(config: PoolConfig) {
  return {
    minUptimeMs: config.restart.minUptimeSeconds * 1000,
    maxRestarts: config.restart.maxRestarts,
    backoffInitialMs: config.restart.backoffInitialMs,
    backoffMaxMs: config.restart.backoffMaxMs,
  };
}
