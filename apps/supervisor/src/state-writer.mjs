// The store's writer thread: applies batches of session and process-table changes to SQLite,
// so the supervisor's event loop (and the proxy on it) never waits for the disk: not for a
// commit, not for a WAL checkpoint. Plain JavaScript so it runs as a worker thread with no
// TypeScript loader. Messages: { type: 'batch', seq, ops, heartbeat } → { type: 'done', seq }.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const ALIVE = new Set(['starting', 'started', 'detached', 'stopping']);

const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');

// Session changes are appended to the log (stored-state.ts explains the journal); the fold
// (workerData.foldSql) moves them into the snapshot once the log is as long as it.
const appendSession = db.prepare('INSERT INTO session_log (id, worker, ttl_ms, expires_at) VALUES (?, ?, ?, ?)');
const deleteSessionsOf = db.prepare('DELETE FROM sessions WHERE worker = ?');
const countLog = db.prepare('SELECT count(*) AS n FROM session_log');
const countSnapshot = db.prepare('SELECT count(*) AS n FROM sessions');
let logRows = countLog.get().n;
let snapshotRows = countSnapshot.get().n;

function fold() {
  db.exec(workerData.foldSql);
  logRows = 0;
  snapshotRows = countSnapshot.get().n;
}

/** A worker that ended takes its sessions along: fold first, so none of its log rows outlives it. */
function forgetSessionsOf(worker) {
  if (logRows > 0) fold();
  deleteSessionsOf.run(worker);
}
const upsertWorker = db.prepare(`
  INSERT INTO workers (id, pool, generation, port, revision, state, pid, pid_start_time, started_at, ready_at, detached_at, stopped_at, updated_at)
  VALUES (@id, @pool, @generation, @port, @revision, @state, @pid, @pidStartTime, @startedAt, @readyAt, @detachedAt, @stoppedAt, @updatedAt)
  ON CONFLICT(id) DO UPDATE SET port = excluded.port, revision = excluded.revision, state = excluded.state,
    pid = excluded.pid, pid_start_time = excluded.pid_start_time, started_at = excluded.started_at,
    ready_at = excluded.ready_at, detached_at = excluded.detached_at, stopped_at = excluded.stopped_at,
    updated_at = excluded.updated_at`);
const deleteWorker = db.prepare('DELETE FROM workers WHERE id = ?');
const upsertPool = db.prepare(
  'INSERT INTO pools (name, next_generation) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET next_generation = MAX(next_generation, excluded.next_generation)',
);
const upsertSample = db.prepare(
  'INSERT INTO session_samples (at, sessions) VALUES (?, ?) ON CONFLICT(at) DO UPDATE SET sessions = excluded.sessions',
);
const upsertMarker = db.prepare(`
  INSERT INTO worker_markers (worker, pool, revision, state, started_at, ready_at, detached_at, stopped_at, seen_at)
  VALUES (@worker, @pool, @revision, @state, @startedAt, @readyAt, @detachedAt, @stoppedAt, @seenAt)
  ON CONFLICT(worker) DO UPDATE SET pool = excluded.pool, revision = excluded.revision, state = excluded.state,
    started_at = excluded.started_at, ready_at = excluded.ready_at, detached_at = excluded.detached_at,
    stopped_at = excluded.stopped_at, seen_at = excluded.seen_at`);
const pruneSamples = db.prepare('DELETE FROM session_samples WHERE at < ?');
const pruneMarkers = db.prepare('DELETE FROM worker_markers WHERE seen_at < ? AND stopped_at IS NOT NULL');
const setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');

const apply = db.transaction((ops, heartbeat) => {
  for (const op of ops) {
    switch (op[0]) {
      case 's':
        appendSession.run(op[1], op[2], op[3], op[4]);
        logRows++;
        break;
      case 'd':
        appendSession.run(op[1], null, null, null);
        logRows++;
        break;
      case 'w':
        upsertWorker.run(op[1]);
        if (!ALIVE.has(op[1].state)) forgetSessionsOf(op[1].id);
        break;
      case 'x':
        deleteWorker.run(op[1]);
        forgetSessionsOf(op[1]);
        break;
      case 'g':
        upsertPool.run(op[1], op[2]);
        break;
      case 'h':
        upsertSample.run(op[1], op[2]);
        break;
      case 'm':
        upsertMarker.run({ ...op[1], seenAt: op[2] });
        break;
      case 'p':
        pruneSamples.run(op[1]);
        pruneMarkers.run(op[1]);
        break;
      case 'n':
        setMeta.run('node_drain', op[1]);
        break;
      default:
        throw new Error(`unknown store operation ${op[0]}`);
    }
  }
  if (heartbeat !== null) setMeta.run('flushed_at', String(heartbeat));
  if (logRows >= Math.max(workerData.foldMinRows, snapshotRows)) fold();
});

parentPort.on('message', (message) => {
  if (message.type === 'batch') {
    let error = null;
    const started = performance.now();
    try {
      apply(message.ops, message.heartbeat);
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught);
      // The batch was rolled back: count again what is there.
      logRows = countLog.get().n;
      snapshotRows = countSnapshot.get().n;
    }
    parentPort.postMessage({ type: 'done', seq: message.seq, error, ms: performance.now() - started });
  } else if (message.type === 'close') {
    db.close();
    parentPort.postMessage({ type: 'closed' });
  }
});
