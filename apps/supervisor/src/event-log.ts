import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { eventTypePrefix } from '@handover/control-api/server';
import type { EventFilter, EventType, HandoverEvent, NodeEventType, RecoveryEventType } from '@handover/process-table';
import { makeDatabasePrivate } from './private-file';

export interface NewEvent {
  type: EventType | RecoveryEventType | NodeEventType;
  actor: string;
  pool?: string | null;
  worker?: string | null;
  message: string;
  data?: Record<string, unknown> | null;
}

interface EventRow {
  id: number;
  at: string;
  type: EventType | RecoveryEventType | NodeEventType;
  actor: string;
  pool: string | null;
  worker: string | null;
  message: string;
  data: string | null;
}

/**
 * The event and audit log, in an embedded SQLite file (no server to install). Events are
 * rare (state changes and operator actions, never per request), so a synchronous insert in
 * WAL mode is cheap; listeners hear of each event after it is stored, so an id they see is
 * always readable back by `list`.
 */
export class EventLog {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly selectAfter: Database.Statement;
  private readonly selectLatest: Database.Statement;
  private readonly listeners = new Set<(event: HandoverEvent) => void>();

  constructor(file: string) {
    if (file !== ':memory:') {
      mkdirSync(dirname(file), { recursive: true });
      makeDatabasePrivate(file);
    }
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      TEXT NOT NULL,
        type    TEXT NOT NULL,
        actor   TEXT NOT NULL,
        pool    TEXT,
        worker  TEXT,
        message TEXT NOT NULL,
        data    TEXT
      );
      CREATE INDEX IF NOT EXISTS events_worker ON events (worker);
    `);
    this.insert = this.db.prepare(
      'INSERT INTO events (at, type, actor, pool, worker, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.selectAfter = this.db.prepare('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?');
    this.selectLatest = this.db.prepare(
      'SELECT * FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?) ORDER BY id',
    );
  }

  record(event: NewEvent): HandoverEvent {
    const at = new Date().toISOString();
    const data = event.data ?? null;
    const result = this.insert.run(
      at,
      event.type,
      event.actor,
      event.pool ?? null,
      event.worker ?? null,
      event.message,
      data === null ? null : JSON.stringify(data),
    );
    const stored: HandoverEvent = {
      id: Number(result.lastInsertRowid),
      at,
      type: event.type,
      actor: event.actor,
      pool: event.pool ?? null,
      worker: event.worker ?? null,
      message: event.message,
      data,
    };
    for (const listener of this.listeners) {
      try {
        listener(stored);
      } catch {
        // A broken subscriber must not stop the supervisor or the other subscribers.
      }
    }
    return stored;
  }

  /** Events after `afterId` (oldest first), or the newest `limit` when no id is given; with a filter, only those it matches. */
  list(options: { afterId?: number; limit: number; filter?: EventFilter }): HandoverEvent[] {
    const filter = options.filter;
    const rows = (
      filter !== undefined && Object.keys(filter).length > 0
        ? this.filtered(options.afterId, options.limit, filter)
        : options.afterId === undefined
          ? this.selectLatest.all(options.limit)
          : this.selectAfter.all(options.afterId, options.limit)
    ) as EventRow[];
    return rows.map((row) => ({ ...row, data: row.data === null ? null : JSON.parse(row.data) }));
  }

  /** A filtered read (statements cached per shape of filter: at most 32 of them). */
  private filtered(afterId: number | undefined, limit: number, filter: EventFilter): EventRow[] {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (afterId !== undefined) {
      where.push('id > ?');
      params.push(afterId);
    }
    for (const column of ['worker', 'pool', 'actor'] as const) {
      const value = filter[column];
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    if (filter.type !== undefined) {
      const prefix = eventTypePrefix(filter.type);
      if (prefix === null) where.push('type = ?');
      else where.push('substr(type, 1, length(?)) = ?'), params.push(prefix);
      params.push(prefix ?? filter.type);
    }
    const condition = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
    const sql =
      afterId === undefined
        ? `SELECT * FROM (SELECT * FROM events ${condition} ORDER BY id DESC LIMIT ?) ORDER BY id`
        : `SELECT * FROM events ${condition} ORDER BY id LIMIT ?`;
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement.all(...params, limit) as EventRow[];
  }

  private readonly statements = new Map<string, Database.Statement>();

  subscribe(listener: (event: HandoverEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }
}
