import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * The console's live sessions, so that a logout (or an operator deleting the file) ends a
 * session for good, even if its signed cookie was copied. One JSON file in the data directory,
 * `console-sessions.json` (mode 0600):
 *
 *   {"version":1,"sessions":{"<sha256(id), base64url>":{"u":"admin","iat":…,"exp":…}}}
 *
 * - Only a hash of each session id is kept: the file alone does not let anyone forge a cookie
 *   (that also needs the signing key), nor replay one.
 * - Every check reads the file again (it is a few hundred bytes to a few KB). Next runs proxy.ts,
 *   route handlers and server actions from separate bundles, each with its own copy of this
 *   module, so an in-memory cache in one would not see a logout done through another; reading
 *   the file costs tens of microseconds and is always right, across `next start` restarts too.
 * - Writes (login, logout) are queued one at a time per file within the process, re-read the
 *   file, and replace it atomically: a private temporary file, fsync, rename. A reader sees
 *   the old or the new file, never half of one.
 * - Expired entries are dropped on every write, and at most `maxSessions` are kept (the oldest
 *   goes first), so the file stays small.
 * - An unreadable file is an error (every session check fails closed: logged out); a file that
 *   is not ours (not JSON, wrong shape) counts as empty, so every old session is over and the
 *   next login writes a good one.
 *
 * Two console processes on one data directory each see the other's logins and logouts, but two
 * writes at the very same moment can lose one of them (the queue is per process): a lost login
 * means logging in again, a lost logout means the session lives until its expiry. Run one
 * console per data directory.
 */

export const SESSION_STORE_FILE = 'console-sessions.json';
/** A session id: 32 random bytes, base64url. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

interface Entry {
  /** User name. */
  u: string;
  /** Issued at, epoch ms. */
  iat: number;
  /** Absolute expiry, epoch ms. */
  exp: number;
}

interface Contents {
  version: 1;
  sessions: Record<string, Entry>;
}

export class SessionStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionStoreError';
  }
}

export interface SessionStoreOptions {
  /** Live sessions kept at most; default 100. */
  maxSessions?: number;
  /** Told once per store when the file had to be ignored. Default: console.error. */
  warn?: (message: string) => void;
}

const QUEUES = Symbol.for('handover.admin.session-store.queues');

/** Process-wide (shared by every bundle's copy of this module): one write at a time per file. */
function queues(): Map<string, Promise<unknown>> {
  const global = globalThis as { [QUEUES]?: Map<string, Promise<unknown>> };
  global[QUEUES] ??= new Map();
  return global[QUEUES];
}

function hashId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('base64url');
}

function isEntry(value: unknown): value is Entry {
  if (typeof value !== 'object' || value === null) return false;
  const { u, iat, exp } = value as Record<string, unknown>;
  return typeof u === 'string' && typeof iat === 'number' && Number.isFinite(iat) && typeof exp === 'number' && Number.isFinite(exp);
}

export class SessionStore {
  readonly file: string;
  private readonly maxSessions: number;
  private readonly warn: (message: string) => void;
  private warned = false;

  constructor(file: string, options: SessionStoreOptions = {}) {
    this.file = path.resolve(file);
    this.maxSessions = options.maxSessions ?? 100;
    this.warn = options.warn ?? ((message) => console.error(message));
  }

  /** A new random session id (what goes, signed, into the cookie). */
  static newId(): string {
    return randomBytes(32).toString('base64url');
  }

  /** Records a new live session; returns its id. */
  async create(user: string, expiresAt: number, now: number = Date.now()): Promise<string> {
    const id = SessionStore.newId();
    await this.update((sessions) => {
      sessions[hashId(id)] = { u: user, iat: now, exp: expiresAt };
    }, now);
    return id;
  }

  /** Whether the session is live: recorded, for this user, not expired, not revoked. */
  async isLive(id: string, user: string, now: number = Date.now()): Promise<boolean> {
    if (!SESSION_ID_PATTERN.test(id)) return false;
    const entry = (await this.read()).sessions[hashId(id)];
    return entry !== undefined && entry.u === user && entry.exp > now;
  }

  /** Ends a session; true when it was live. */
  async revoke(id: string, now: number = Date.now()): Promise<boolean> {
    if (!SESSION_ID_PATTERN.test(id)) return false;
    let found = false;
    await this.update((sessions) => {
      const key = hashId(id);
      found = sessions[key] !== undefined;
      delete sessions[key];
    }, now);
    return found;
  }

  /** Ends every session (all users); returns how many were live. */
  async revokeAll(now: number = Date.now()): Promise<number> {
    let count = 0;
    await this.update((sessions) => {
      for (const key of Object.keys(sessions)) {
        if (sessions[key]!.exp > now) count++;
        delete sessions[key];
      }
    }, now);
    return count;
  }

  /** How many sessions are live. */
  async liveCount(now: number = Date.now()): Promise<number> {
    return Object.values((await this.read()).sessions).filter((entry) => entry.exp > now).length;
  }

  private async read(): Promise<Contents> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, sessions: {} };
      throw new SessionStoreError(`cannot read the console sessions ${this.file}: ${(error as Error).message}`);
    }
    try {
      const parsed = JSON.parse(text) as Partial<Contents>;
      if (parsed?.version !== 1 || typeof parsed.sessions !== 'object' || parsed.sessions === null || Array.isArray(parsed.sessions)) {
        throw new Error('not a version 1 session file');
      }
      const sessions: Record<string, Entry> = Object.create(null);
      for (const [key, entry] of Object.entries(parsed.sessions)) if (isEntry(entry)) sessions[key] = entry;
      return { version: 1, sessions };
    } catch (error) {
      if (!this.warned) {
        this.warned = true;
        this.warn(
          `admin console: ${this.file} is not a session file (${(error as Error).message}); every console session is treated ` +
            'as logged out, and the next login replaces the file',
        );
      }
      return { version: 1, sessions: {} };
    }
  }

  private update(change: (sessions: Record<string, Entry>) => void, now: number): Promise<void> {
    const all = queues();
    const previous = all.get(this.file) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(async () => {
      const contents = await this.read();
      change(contents.sessions);
      const live = Object.entries(contents.sessions)
        .filter(([, entry]) => entry.exp > now)
        .sort(([, a], [, b]) => a.iat - b.iat)
        .slice(-this.maxSessions);
      await this.write({ version: 1, sessions: Object.fromEntries(live) });
    });
    all.set(this.file, run);
    // Forget a settled tail so the map does not hold on to finished work.
    void run.catch(() => {}).then(() => {
      if (all.get(this.file) === run) all.delete(this.file);
    });
    return run;
  }

  private async write(contents: Contents): Promise<void> {
    const dir = path.dirname(this.file);
    const tmp = `${this.file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(contents)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.file);
    } catch (error) {
      await unlink(tmp).catch(() => {});
      throw new SessionStoreError(`cannot write the console sessions ${this.file}: ${(error as Error).message}`);
    }
    // The rename is durable once the directory is synced (best effort: not every FS allows it).
    try {
      const handle = await open(dir, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch {
      // fine: the file itself is complete either way
    }
  }
}
