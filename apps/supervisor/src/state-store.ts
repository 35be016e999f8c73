import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { type InstanceState, type SessionSample, type WorkerMarker, isAlive } from '@handover/process-table';
import { makeDatabasePrivate } from './private-file';
import {
  FOLD_SESSION_LOG,
  SCHEMA,
  foldSessionLog,
  type StoredSession,
  type StoredState,
  type StoredWorker,
  readMarkers,
  readNodeDrain,
  readSamples,
  readSessionOwners,
  readSessionsOf,
  readState,
} from './stored-state';

export type { StoredSession, StoredState, StoredWorker } from './stored-state';
import { checkProcess, processStartTime } from './proc-identity';

/** What a journal entry needs of a session's owner. */
export interface JournalOwner {
  readonly id: string;
  readonly state: InstanceState;
}

interface PendingBind {
  owner: JournalOwner;
  ttlMs: number;
}

/** One change for the writer thread (see state-writer.mjs). */
type Op =
  | ['s', string, string, number, number]
  | ['d', string]
  | ['w', StoredWorker]
  | ['x', string]
  | ['g', string, number]
  | ['h', number, string]
  | ['m', WorkerMarker, number]
  | ['p', number]
  | ['n', string];

export interface StoredNodeDrain {
  since: string;
  by: string;
}

export interface StateStoreOptions {
  /** Journal flush cadence. Default 200 ms. */
  flushIntervalMs?: number;
  /** Session changes per message to the writer, so building one never holds the event loop long. */
  sliceSize?: number;
  /** The flush time is written at least this often even with nothing to flush. Default 5 s. */
  heartbeatMs?: number;
  /** The session log is folded into the snapshot once it has this many rows and is as long as it. Default 50 000. */
  foldMinRows?: number;
}

/**
 * The process table and the session bindings, in SQLite under the data directory
 * (`<dataDir>/state.db`), so that a new supervisor can re-adopt the workers of one that died
 * or left.
 *
 * Nothing here touches the disk on the supervisor's event loop after the start: the request
 * path only notes a session change in an in-memory journal (one Map.set; re-binds of the same
 * id coalesce), and every `flushIntervalMs` the journal goes as one message to a writer thread
 * that applies it in one transaction (WAL, synchronous=NORMAL; checkpoints happen there too).
 * Worker and pool changes (rare) go the same way, ordered after the session changes, and are
 * sent at once rather than at the next tick. A `kill -9` loses at most the changes of the last
 * flush interval; a clean stop (`drain`) loses nothing.
 */
export class StateStore {
  private readonly file: string;
  private readonly pending = new Map<string, PendingBind | null>();
  private readonly ops: Op[] = [];
  private readonly flushIntervalMs: number;
  private readonly sliceSize: number;
  private readonly heartbeatMs: number;
  private readonly foldMinRows: number;
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Immediate | null = null;
  private lastHeartbeat = 0;
  private thread: Thread | null = null;
  private seq = 0;
  private readonly waiting = new Map<number, () => void>();
  private closed = false;
  /** Flush statistics, for tests and diagnostics. */
  readonly stats = { batches: 0, sessionRows: 0, maxWriteMs: 0, errors: [] as string[] };

  constructor(file: string, options: StateStoreOptions = {}) {
    mkdirSync(dirname(file), { recursive: true });
    this.file = file;
    this.flushIntervalMs = options.flushIntervalMs ?? 200;
    this.sliceSize = options.sliceSize ?? 5000;
    this.heartbeatMs = options.heartbeatMs ?? 5000;
    this.foldMinRows = options.foldMinRows ?? 50_000;
    // Created here, synchronously, before any writer exists; it holds the session ids.
    makeDatabasePrivate(file);
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.exec(SCHEMA);
    } finally {
      db.close();
    }
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /**
   * Takes the data directory for this supervisor: refuses (throws) while the supervisor
   * recorded there is still running, so two supervisors never manage the same workers.
   */
  claim(): void {
    const db = new Database(this.file);
    try {
      const row = db.prepare("SELECT value FROM meta WHERE key = 'supervisor'").get() as { value: string } | undefined;
      if (row !== undefined) {
        const owner = JSON.parse(row.value) as { pid: number; startTime: string | null };
        if (owner.pid !== process.pid && checkProcess(owner) === 'alive') {
          throw new Error(
            `another supervisor (pid ${owner.pid}) is running on the data directory ${dirname(this.file)}; stop it first (\`handover stop\`)`,
          );
        }
      }
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(
        'supervisor',
        JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) }),
      );
      // What the previous supervisor appended goes into the snapshot now, before the restore
      // reads it, so each worker's sessions are one indexed read.
      foldSessionLog(db);
    } finally {
      db.close();
    }
  }

  // ---- reading (once, at start, before anything is served) -------------------------------------

  /** Everything stored, sessions included (tests and diagnostics; a restore uses readState + sessionsOf). */
  load(): StoredState {
    const state = this.readState();
    const sessions: StoredSession[] = [];
    for (const worker of new Set([...state.workers.map((w) => w.id), ...readSessionOwners(this.file)])) {
      for (const session of this.sessionsOf(worker)) sessions.push(session);
    }
    return { ...state, sessions };
  }

  /** Everything but the sessions (stored-state.ts `readState`). */
  readState(): Omit<StoredState, 'sessions'> {
    return readState(this.file);
  }

  /** One worker's stored sessions, streamed (stored-state.ts `readSessionsOf`). */
  sessionsOf(worker: string): Generator<StoredSession> {
    return readSessionsOf(this.file, worker);
  }

  /** Session samples taken at or after `sinceMs` (the chart's history, read once at start). */
  samples(sinceMs: number): SessionSample[] {
    return readSamples(this.file, sinceMs);
  }

  /** Worker markers seen at or after `sinceMs` (read once at start). */
  markers(sinceMs: number): WorkerMarker[] {
    return readMarkers(this.file, sinceMs);
  }

  // ---- rare changes: sent at once ------------------------------------------------------------

  /** One session sample (every couple of seconds; goes with the next flush, not at once). */
  saveSample(sample: SessionSample): void {
    if (this.closed) return;
    this.ops.push(['h', Date.parse(sample.at), JSON.stringify(sample.sessions)]);
  }

  /** A worker's markers (on every state change), kept with the samples for the chart. */
  saveMarker(marker: WorkerMarker): void {
    this.queue(['m', { ...marker }, Date.now()]);
  }

  /** The node's drain (node-drain.ts), or null when it takes clients; kept across restarts. */
  saveNodeDrain(drain: StoredNodeDrain | null): void {
    this.queue(['n', drain === null ? '' : JSON.stringify(drain)]);
  }

  /** The recorded node drain, if any (read once at start). */
  readNodeDrain(): StoredNodeDrain | null {
    return readNodeDrain(this.file);
  }

  /** Forgets samples and markers of ended workers older than `beforeMs`. */
  pruneHistory(beforeMs: number): void {
    if (this.closed) return;
    this.ops.push(['p', beforeMs]);
  }

  setNextGeneration(pool: string, next: number): void {
    this.queue(['g', pool, next]);
  }

  /** Records a worker; one that has ended loses its session rows with it. */
  saveWorker(worker: StoredWorker): void {
    this.queue(['w', { ...worker }]);
  }

  deleteWorker(id: string): void {
    this.queue(['x', id]);
  }

  // ---- the session journal: in memory on the request path ------------------------------------

  /** A session was bound (or re-bound, or refreshed by the app's report). No I/O, no clock. */
  bound(id: string, owner: JournalOwner, ttlMs: number): void {
    const entry = this.pending.get(id);
    if (entry) {
      entry.owner = owner;
      entry.ttlMs = ttlMs;
    } else {
      this.pending.set(id, { owner, ttlMs });
    }
  }

  /** A session ended (unbound or expired). No I/O. */
  released(id: string): void {
    this.pending.set(id, null);
  }

  get pendingCount(): number {
    return this.pending.size + this.ops.length;
  }

  startFlushing(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setInterval(() => this.flush(false), this.flushIntervalMs);
    this.timer.unref();
  }

  /** Sends everything pending to the writer and resolves once it is written. */
  async drain(): Promise<void> {
    if (this.closed) return;
    this.flush(true);
    const seq = this.seq;
    if (seq === 0) return;
    await new Promise<void>((resolve) => {
      if (!this.waiting.has(seq) && this.doneUpTo >= seq) resolve();
      else this.waiting.set(seq, resolve);
    });
  }

  /** Writes what is pending, then stops the writer. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.drain();
    this.closed = true;
    const thread = this.thread;
    this.thread = null;
    if (thread !== null) await thread.terminate();
  }

  private doneUpTo = 0;

  private queue(op: Op): void {
    if (this.closed) return;
    this.ops.push(op);
    this.soon ??= setImmediate(() => {
      this.soon = null;
      this.flush(false);
    });
  }

  /**
   * Sends the journal (every session change, each id once, as of now) then the queued worker
   * changes to the writer. Session rows of a worker that has ended since are left out: its rows
   * go with it.
   */
  private flush(force: boolean): void {
    if (this.closed) return;
    const now = Date.now();
    const heartbeatDue = force || now - this.lastHeartbeat >= this.heartbeatMs;
    if (this.pending.size === 0 && this.ops.length === 0 && !heartbeatDue) return;
    let batch: Op[] = [];
    let sessionRows = 0;
    const send = (last: boolean) => {
      this.post(batch, last || sessionRows > 0 ? now : null);
      batch = [];
    };
    for (const [id, entry] of this.pending) {
      if (entry === null || !isAlive(entry.owner.state)) batch.push(['d', id]);
      else batch.push(['s', id, entry.owner.id, entry.ttlMs, now + entry.ttlMs]);
      sessionRows++;
      if (batch.length >= this.sliceSize) send(false);
    }
    this.pending.clear();
    batch.push(...this.ops);
    this.ops.length = 0;
    send(true);
    this.lastHeartbeat = now;
    this.stats.sessionRows += sessionRows;
  }

  private post(ops: Op[], heartbeat: number | null): void {
    const seq = ++this.seq;
    this.writer().postMessage({ type: 'batch', seq, ops, heartbeat });
    this.stats.batches++;
  }

  private writer(): Thread {
    if (this.thread !== null) return this.thread;
    const thread = new Thread(new URL('./state-writer.mjs', import.meta.url), {
      workerData: { file: this.file, foldSql: FOLD_SESSION_LOG, foldMinRows: this.foldMinRows },
    });
    thread.unref();
    thread.on('message', (message: { type: string; seq: number; error: string | null; ms: number }) => {
      if (message.type !== 'done') return;
      this.doneUpTo = message.seq;
      this.stats.maxWriteMs = Math.max(this.stats.maxWriteMs, message.ms);
      if (message.error !== null) {
        this.stats.errors.push(message.error);
        process.stderr.write(`handover: could not record the state (${message.error}); a restart may not re-adopt everything\n`);
      }
      for (const [seq, resolve] of this.waiting) {
        if (seq <= message.seq) {
          this.waiting.delete(seq);
          resolve();
        }
      }
    });
    thread.on('error', (error) => {
      this.stats.errors.push(error.message);
      process.stderr.write(`handover: the state writer failed (${error.message}); a restart may not re-adopt everything\n`);
      this.thread = null;
      for (const resolve of this.waiting.values()) resolve();
      this.waiting.clear();
    });
    this.thread = thread;
    return thread;
  }
}
