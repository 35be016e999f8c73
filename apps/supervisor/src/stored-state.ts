/**
 * The stored state and how it is read: the schema, the row types, and the reads a restore makes
 * (once, at start, before anything is served). The writes are the StateStore's (state-store.ts).
 */
import Database from 'better-sqlite3';
import type { InstanceState, SessionSample, WorkerMarker } from '@handover/process-table';

/** A worker as recorded: enough to find its process again and serve it as before. */
export interface StoredWorker {
  id: string;
  pool: string;
  generation: number;
  port: number;
  revision: string;
  state: InstanceState;
  pid: number | null;
  /** /proc/<pid>/stat field 22, so a reused pid is never taken for our worker. */
  pidStartTime: string | null;
  startedAt: string | null;
  readyAt: string | null;
  detachedAt: string | null;
  stoppedAt: string | null;
  updatedAt: string;
}

export interface StoredSession {
  id: string;
  worker: string;
  ttlMs: number;
  /** ms since the epoch, as of the session's last bind (lookups slide it in memory only). */
  expiresAt: number;
}

export interface StoredState {
  nextGeneration: Map<string, number>;
  workers: StoredWorker[];
  sessions: StoredSession[];
  /**
   * When the journal was last flushed (ms since the epoch), or null. Every session row was
   * alive at that moment, so it can have expired no earlier than this.
   */
  flushedAt: number | null;
}

interface WorkerRecord {
  id: string;
  pool: string;
  generation: number;
  port: number;
  revision: string;
  state: InstanceState;
  pid: number | null;
  pid_start_time: string | null;
  started_at: string | null;
  ready_at: string | null;
  detached_at: string | null;
  stopped_at: string | null;
  updated_at: string;
}

export const SCHEMA = `
  CREATE TABLE IF NOT EXISTS pools (
    name            TEXT PRIMARY KEY,
    next_generation INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS workers (
    id             TEXT PRIMARY KEY,
    pool           TEXT NOT NULL,
    generation     INTEGER NOT NULL,
    port           INTEGER NOT NULL,
    revision       TEXT NOT NULL,
    state          TEXT NOT NULL,
    pid            INTEGER,
    pid_start_time TEXT,
    started_at     TEXT,
    ready_at       TEXT,
    detached_at    TEXT,
    stopped_at     TEXT,
    updated_at     TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS sessions (
    id         TEXT PRIMARY KEY,
    worker     TEXT NOT NULL,
    ttl_ms     INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS sessions_worker ON sessions (worker);
  CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS session_samples (
    at       INTEGER PRIMARY KEY,
    sessions TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS worker_markers (
    worker      TEXT PRIMARY KEY,
    pool        TEXT NOT NULL,
    revision    TEXT NOT NULL,
    state       TEXT NOT NULL,
    started_at  TEXT,
    ready_at    TEXT,
    detached_at TEXT,
    stopped_at  TEXT,
    seen_at     INTEGER NOT NULL
  );
`;

/** The node drain recorded in `meta` (node-drain.ts), or null. */
export function readNodeDrain(file: string): { since: string; by: string } | null {
  const db = new Database(file, { readonly: true });
  try {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'node_drain'").get() as { value: string } | undefined;
    return row === undefined || row.value === '' ? null : (JSON.parse(row.value) as { since: string; by: string });
  } finally {
    db.close();
  }
}

/** The session samples taken at or after `sinceMs`, oldest first (the console's chart, across restarts). */
export function readSamples(file: string, sinceMs: number): SessionSample[] {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT at, sessions FROM session_samples WHERE at >= ? ORDER BY at').all(sinceMs) as Array<{ at: number; sessions: string }>;
    return rows.map((row) => ({ at: new Date(row.at).toISOString(), sessions: JSON.parse(row.sessions) as Record<string, number> }));
  } finally {
    db.close();
  }
}

/** The recorded markers of every worker not ended, or changed at or after `sinceMs` (ms). */
export function readMarkers(file: string, sinceMs: number): WorkerMarker[] {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT * FROM worker_markers WHERE stopped_at IS NULL OR seen_at >= ? ORDER BY pool, worker').all(sinceMs) as Array<{
      worker: string;
      pool: string;
      revision: string;
      state: InstanceState;
      started_at: string | null;
      ready_at: string | null;
      detached_at: string | null;
      stopped_at: string | null;
    }>;
    return rows.map((row) => ({
      worker: row.worker,
      pool: row.pool,
      revision: row.revision,
      state: row.state,
      startedAt: row.started_at,
      readyAt: row.ready_at,
      detachedAt: row.detached_at,
      stoppedAt: row.stopped_at,
    }));
  } finally {
    db.close();
  }
}

/** The process table, generations and flush time: everything but the (possibly millions of) sessions. */
export function readState(file: string): Omit<StoredState, 'sessions'> {
  const db = new Database(file, { readonly: true });
  try {
    const nextGeneration = new Map<string, number>();
    for (const row of db.prepare('SELECT name, next_generation FROM pools').all() as Array<{ name: string; next_generation: number }>) {
      nextGeneration.set(row.name, row.next_generation);
    }
    const workers = (db.prepare('SELECT * FROM workers ORDER BY pool, generation').all() as WorkerRecord[]).map(
      (row): StoredWorker => ({
        id: row.id,
        pool: row.pool,
        generation: row.generation,
        port: row.port,
        revision: row.revision,
        state: row.state,
        pid: row.pid,
        pidStartTime: row.pid_start_time,
        startedAt: row.started_at,
        readyAt: row.ready_at,
        detachedAt: row.detached_at,
        stoppedAt: row.stopped_at,
        updatedAt: row.updated_at,
      }),
    );
    const flushed = db.prepare("SELECT value FROM meta WHERE key = 'flushed_at'").get() as { value: string } | undefined;
    return { nextGeneration, workers, flushedAt: flushed ? Number(flushed.value) : null };
  } finally {
    db.close();
  }
}

/**
 * The stored sessions of one worker, streamed row by row (`iterate`, on its index), so that a
 * restore binds each straight into the table and never holds a second copy of them all.
 * The read ends (and its connection closes) when the loop does, early or not.
 */
export function* readSessionsOf(file: string, worker: string): Generator<StoredSession> {
  const db = new Database(file, { readonly: true });
  let rows: IterableIterator<{ id: string; ttl_ms: number; expires_at: number }> | undefined;
  try {
    rows = db.prepare('SELECT id, ttl_ms, expires_at FROM sessions WHERE worker = ?').iterate(worker) as typeof rows & object;
    for (const row of rows) yield { id: row.id, worker, ttlMs: row.ttl_ms, expiresAt: row.expires_at };
  } finally {
    // An iteration left early still holds the connection: end it before closing.
    rows?.return?.();
    db.close();
  }
}

/** Workers that have session rows (a row may outlive its worker's record until the next flush). */
export function readSessionOwners(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT DISTINCT worker FROM sessions').all() as Array<{ worker: string }>).map((row) => row.worker);
  } finally {
    db.close();
  }
}
