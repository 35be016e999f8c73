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
  CREATE TABLE IF NOT EXISTS session_log (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL,
    worker     TEXT,
    ttl_ms     INTEGER,
    expires_at INTEGER
  );
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

/**
 * The session journal is two tables: `sessions`, one row per session as of the last fold, and
 * `session_log`, every change since, appended (`worker` NULL: the session ended). A new session
 * costs an append at the end of one B-tree instead of a random insert into two (the id is a
 * random key; 5–6× less writer CPU per new session at 300k sessions, docs/BENCHMARKS.md). Once
 * the log is as long as the snapshot, the writer folds it in: the latest change of each id, in
 * id order, then the log is emptied. Reads merge both, so they are right at any moment.
 */
export const FOLD_SESSION_LOG = `
  CREATE TEMP TABLE IF NOT EXISTS fold_latest (id TEXT PRIMARY KEY, worker TEXT, ttl_ms INTEGER, expires_at INTEGER) WITHOUT ROWID;
  INSERT INTO fold_latest SELECT id, worker, ttl_ms, expires_at FROM (SELECT id, worker, ttl_ms, expires_at, max(seq) FROM session_log GROUP BY id);
  DELETE FROM sessions WHERE id IN (SELECT id FROM fold_latest WHERE worker IS NULL);
  INSERT INTO sessions (id, worker, ttl_ms, expires_at)
    SELECT id, worker, ttl_ms, expires_at FROM fold_latest WHERE worker IS NOT NULL ORDER BY id
    ON CONFLICT(id) DO UPDATE SET worker = excluded.worker, ttl_ms = excluded.ttl_ms, expires_at = excluded.expires_at;
  DELETE FROM session_log;
  DELETE FROM fold_latest;
`;

/** Folds the session log into the snapshot (one transaction), so a restore reads one table. */
export function foldSessionLog(db: Database.Database): void {
  db.transaction(() => db.exec(FOLD_SESSION_LOG))();
}

/** The latest change of each id in the log (SQLite takes bare columns from the max(seq) row). */
const LOG_LATEST = 'SELECT id, worker, ttl_ms, expires_at, max(seq) FROM session_log GROUP BY id';

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
 * The stored sessions of one worker (snapshot and log merged), streamed row by row, so that a
 * restore binds each straight into the table and never holds a second copy of them all.
 * The read ends (and its connection closes) when the loop does, early or not.
 */
export function* readSessionsOf(file: string, worker: string): Generator<StoredSession> {
  const db = new Database(file, { readonly: true });
  let rows: IterableIterator<{ id: string; ttl_ms: number; expires_at: number }> | undefined;
  try {
    rows = db
      .prepare(
        `SELECT id, ttl_ms, expires_at FROM sessions WHERE worker = @worker AND id NOT IN (SELECT id FROM session_log)
         UNION ALL SELECT id, ttl_ms, expires_at FROM (${LOG_LATEST}) WHERE worker = @worker`,
      )
      .iterate({ worker }) as typeof rows & object;
    for (const row of rows) yield { id: row.id, worker, ttlMs: row.ttl_ms, expiresAt: row.expires_at };
  } finally {
    // An iteration left early still holds the connection: end it before closing.
    rows?.return?.();
    db.close();
  }
}

/** Every stored session (snapshot and log merged; diagnostics and tests). */
export function readStoredSessions(file: string): StoredSession[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT id, worker, ttl_ms, expires_at FROM sessions WHERE id NOT IN (SELECT id FROM session_log)
         UNION ALL SELECT id, worker, ttl_ms, expires_at FROM (${LOG_LATEST}) WHERE worker IS NOT NULL`,
      )
      .all() as Array<{ id: string; worker: string; ttl_ms: number; expires_at: number }>;
    return rows.map((row) => ({ id: row.id, worker: row.worker, ttlMs: row.ttl_ms, expiresAt: row.expires_at }));
  } finally {
    db.close();
  }
}

/** Workers that have session rows (a row may outlive its worker's record until the next flush). */
export function readSessionOwners(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db
      .prepare(
        `SELECT worker FROM sessions WHERE id NOT IN (SELECT id FROM session_log)
         UNION SELECT worker FROM (${LOG_LATEST}) WHERE worker IS NOT NULL`,
      )
      .all() as Array<{ worker: string }>;
    return rows.map((row) => row.worker);
  } finally {
    db.close();
  }
}
