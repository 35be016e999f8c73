/**
 * Exact session reporting to Handover for Express / Connect apps that use express-session.
 *
 *   app.use(session({ … }));
 *   app.use(handoverSessions());
 *
 * Every response head then carries, for the Handover proxy (which strips it before the client):
 *
 *   X-Handover-Session: <cookie>; ttl=<seconds>   the session the request used, or created and sent
 *   X-Handover-Session: <cookie>; ttl=0           a session that ended: req.session.destroy(), the
 *                                                 old id of req.session.regenerate(), unset:'destroy'
 *
 * `<cookie>` is the session cookie's value **as the browser sends it** (`s%3A<id>.<signature>`),
 * because that is what the proxy reads from requests; the bare id would never match. Protocol:
 * docs/session-reporting.md. Limits: README.md.
 */
import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';

export interface HandoverSessionsOptions {
  /**
   * How many sessions to remember (id → cookie value), so that one destroyed outside its own
   * request's head (after a streamed head, by another request such as "log out everywhere", by an
   * admin task) can still be reported with `ttl=0` on a later response; it also bounds the queue
   * of such reports waiting for a response. Default 10,000 (about a megabyte). A session forgotten
   * here ends by Handover's idle timeout instead.
   */
  maxEntries?: number;
}

/** The part of express-session's `req.session` read here. */
interface SessionLike {
  cookie?: { originalMaxAge?: number | null } | null;
}

/** The part of an express-session store used here: its destroy, which regenerate() also calls. */
interface StoreLike {
  destroy(id: string, callback?: (error?: unknown) => void): void;
}

/** What express-session puts on the request. */
interface SessionRequest extends IncomingMessage {
  session?: SessionLike | null;
  sessionID?: string;
  sessionStore?: StoreLike;
}

/** A Connect/Express middleware; assignable to Express's RequestHandler. */
export type HandoverMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

export const HEADER = 'X-Handover-Session';
/** The protocol's limit for these lines on one response; the rest waits for the next ones. */
export const MAX_HEADER_BYTES = 4096;
/** Keeps a huge maxAge (years, Infinity) a plain decimal number. */
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;
const DEFAULT_MAX_ENTRIES = 10_000;
/** On a store: the listeners its wrapped destroy() tells (one per handoverSessions() on that store). */
const DESTROY_LISTENERS = Symbol.for('@handover/express:destroy-listeners');

/** One request in flight. */
interface Context {
  /** The session this request carried and express-session loaded from the store. */
  entry: { id: string; value: string; originalMaxAge: unknown } | undefined;
  /** Sessions ended during this request before its head went out: id → cookie value. */
  ended: Map<string, string>;
  /** Reports taken from the shared queue for this head. */
  carried: string[];
  /** Entries that did not fit this head (4 KiB): back to the queue when the head is out. */
  leftover: string[];
  inHead: boolean;
  headSent: boolean;
  /** The X-Handover-Session lines the app set itself, kept as they are. */
  appLines: string[] | undefined;
}

export function handoverSessions(options: HandoverSessionsOptions = {}): HandoverMiddleware {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError(`handoverSessions: maxEntries must be a positive integer, got ${String(options.maxEntries)}`);
  }
  /** Session id → its cookie value as the browser sends it, least recently seen first. */
  const known = new Map<string, string>();
  /** `<value>; ttl=0` entries waiting for a response head. */
  const pending: string[] = [];
  /** Session id → the request carrying it whose head has not gone out. */
  const inflight = new Map<string, Context>();
  const stores = new WeakSet<object>();

  const remember = (id: string, value: string): void => {
    known.delete(id);
    known.set(id, value);
    if (known.size > maxEntries) known.delete(known.keys().next().value as string);
  };

  const queue = (entries: readonly string[], front = false): void => {
    if (front) pending.unshift(...entries);
    else pending.push(...entries);
    if (pending.length > maxEntries) pending.splice(0, pending.length - maxEntries);
  };

  /** A store destroyed `id`: report it on its own request's head if that is still to come, else on the next one. */
  const destroyed = (id: string): void => {
    const value = known.get(id);
    if (value === undefined) return; // never sent to a browser by this process: nothing bound to it
    known.delete(id);
    const ctx = inflight.get(id);
    if (ctx !== undefined && !ctx.headSent) ctx.ended.set(id, value);
    else queue([`${value}; ttl=0`]);
  };

  return function handoverSessions(rawReq, res, next) {
    const req = rawReq as SessionRequest;
    const store = req.sessionStore;
    if (store !== undefined && store !== null && !stores.has(store)) {
      stores.add(store);
      listenForDestroy(store, destroyed);
    }

    const ctx: Context = {
      entry: undefined,
      ended: new Map(),
      carried: [],
      leftover: [],
      inHead: false,
      headSent: false,
      appLines: undefined,
    };
    const id = req.sessionID;
    if (typeof id === 'string' && req.session) {
      // Found in the request's cookies only when express-session loaded it: an id it generated
      // anew (no cookie, a stale or forged one) is in no cookie.
      const value = requestCookieFor(req.headers.cookie, id);
      if (value !== undefined) {
        ctx.entry = { id, value, originalMaxAge: req.session.cookie?.originalMaxAge };
        remember(id, value);
        inflight.set(id, ctx);
      }
    }

    const setHeader = res.setHeader;
    const removeHeader = res.removeHeader;

    /** The report for this head, from the state as it is now. */
    const report = (): string[] => {
      const entries: string[] = [];
      const entry = ctx.entry;
      const session = req.session;
      const current = req.sessionID;
      if (session && typeof current === 'string') {
        const sent = setCookieFor(res.getHeader('set-cookie'), current);
        if (sent !== undefined) {
          // express-session sends this session's cookie: a new session it saves, a new id after
          // regenerate(), or a rolling/refreshed cookie.
          entries.push(sent + ttl(session.cookie?.originalMaxAge));
          remember(current, sent);
          // The same session under another cookie value (re-signed with a new secret): the old value is done.
          if (entry !== undefined && entry.id === current && entry.value !== sent) entries.push(`${entry.value}; ttl=0`);
        } else if (entry !== undefined && entry.id === current && !ctx.ended.has(current)) {
          entries.push(entry.value + ttl(session.cookie?.originalMaxAge));
        }
        // A session generated by this request and not sent (saveUninitialized: false, unmodified) is not reported.
      } else if (entry !== undefined && !ctx.ended.has(entry.id)) {
        // `req.session = null` without unset:'destroy': the store keeps the session.
        entries.push(entry.value + ttl(entry.originalMaxAge));
      }
      for (const value of ctx.ended.values()) entries.push(`${value}; ttl=0`);
      entries.push(...ctx.carried);
      return entries;
    };

    /** Sets the header to the current report (and the app's own lines), within 4 KiB. */
    const apply = (): void => {
      const fit: string[] = [];
      const leftover: string[] = [];
      let bytes = 0;
      for (const entry of report()) {
        const cost = Buffer.byteLength(entry) + (fit.length === 0 ? 0 : 2);
        // The session this request used is first and always goes; ended ones wait when full.
        if (fit.length > 0 && bytes + cost > MAX_HEADER_BYTES) {
          if (entry.endsWith('; ttl=0')) leftover.push(entry);
          continue;
        }
        fit.push(entry);
        bytes += cost;
      }
      ctx.leftover = leftover;
      const lines = fit.length === 0 ? ctx.appLines! : [...ctx.appLines!, fit.join(', ')];
      if (lines.length === 0) removeHeader.call(res, HEADER);
      else setHeader.call(res, HEADER, lines);
    };

    // express-session sets its cookie in a listener that runs inside writeHead, after this
    // wrapper has started (on-headers wrappers run newest first): its Set-Cookie is seen here
    // and the report redone before the head is written.
    res.setHeader = function (this: ServerResponse, name: string, value: number | string | readonly string[]) {
      const result = setHeader.call(this, name, value);
      if (ctx.inHead && name.toLowerCase() === 'set-cookie') apply();
      return result;
    } as ServerResponse['setHeader'];
    if (typeof res.appendHeader === 'function') {
      const appendHeader = res.appendHeader;
      res.appendHeader = function (this: ServerResponse, name: string, value: string | readonly string[]) {
        const result = appendHeader.call(this, name, value);
        if (ctx.inHead && name.toLowerCase() === 'set-cookie') apply();
        return result;
      } as ServerResponse['appendHeader'];
    }

    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      if (ctx.headSent || ctx.inHead) return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      ctx.inHead = true;
      ctx.appLines = linesOf(res.getHeader(HEADER));
      ctx.carried = pending.splice(0);
      try {
        apply();
        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } finally {
        ctx.inHead = false;
        if (res.headersSent) {
          ctx.headSent = true;
          if (ctx.leftover.length > 0) queue(ctx.leftover, true);
          if (ctx.entry !== undefined && inflight.get(ctx.entry.id) === ctx) inflight.delete(ctx.entry.id);
        } else {
          // The head did not go out (writeHead threw): everything taken waits for the next one.
          queue(ctx.carried, true);
        }
        ctx.carried = [];
        ctx.leftover = [];
      }
    } as ServerResponse['writeHead'];

    res.once('close', () => {
      if (ctx.entry !== undefined && inflight.get(ctx.entry.id) === ctx) inflight.delete(ctx.entry.id);
      if (!ctx.headSent) {
        // No head went out (the client left first): the sessions this request ended wait for the next one.
        ctx.headSent = true;
        queue([...ctx.ended.values()].map((value) => `${value}; ttl=0`));
      }
    });

    next();
  };
}

/** Wraps the store's destroy() once; regenerate() and unset:'destroy' go through it too. */
function listenForDestroy(store: StoreLike, listener: (id: string) => void): void {
  const holder = store as StoreLike & { [DESTROY_LISTENERS]?: Set<(id: string) => void> };
  let listeners = holder[DESTROY_LISTENERS];
  if (listeners === undefined) {
    const set = new Set<(id: string) => void>();
    listeners = set;
    const destroy = store.destroy;
    Object.defineProperty(store, DESTROY_LISTENERS, { value: set, enumerable: false });
    Object.defineProperty(store, 'destroy', {
      configurable: true,
      enumerable: false,
      writable: true,
      value: function (this: StoreLike, id: string, callback?: (error?: unknown) => void) {
        if (typeof id === 'string') for (const tell of set) tell(id);
        return destroy.call(this, id, callback);
      },
    });
  }
  listeners.add(listener);
}

/** `; ttl=<seconds>` from a cookie's maxAge in ms; nothing (the pool's idle timeout) for a browser-session cookie. */
function ttl(originalMaxAge: unknown): string {
  if (typeof originalMaxAge !== 'number' || Number.isNaN(originalMaxAge)) return '';
  if (originalMaxAge <= 0) return '; ttl=0';
  return `; ttl=${Math.min(Math.ceil(originalMaxAge / 1000), MAX_TTL_SECONDS)}`;
}

/** What the `cookie` parser under express-session decodes a value to. */
function decode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** A value as the proxy reads it: trimmed, one pair of surrounding quotes removed. */
function proxyValue(raw: string): string {
  const value = raw.trim();
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

/** A value the header can carry and the proxy will take as an id. */
function usable(value: string): boolean {
  return value !== '' && !/[,;\s"]/.test(value);
}

/** Whether a cookie value (as sent) is express-session's signed cookie for `id`: `s:<id>.<signature>`. */
function carries(value: string, id: string): boolean {
  // The `cookie` parser strips a leading quote (and the last character) before decoding.
  const unquoted = value.startsWith('"') ? value.slice(1, -1) : value;
  return decode(unquoted).startsWith(`s:${id}.`);
}

/**
 * The value of the request cookie that carried session `id`, as the browser sent it (and the
 * proxy reads it); undefined when no cookie carries it or it cannot be reported.
 */
function requestCookieFor(header: string | undefined, id: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const raw = pair.slice(eq + 1).trim();
    if (!carries(raw, id)) continue;
    const value = proxyValue(raw);
    return usable(value) ? value : undefined;
  }
  return undefined;
}

/** The value of the last Set-Cookie line that sets session `id`'s cookie; undefined when none does. */
function setCookieFor(header: OutgoingHttpHeader | undefined, id: string): string | undefined {
  let found: string | undefined;
  for (const line of linesOf(header)) {
    const eq = line.indexOf('=');
    if (eq === -1) continue;
    const semi = line.indexOf(';', eq);
    const raw = (semi === -1 ? line.slice(eq + 1) : line.slice(eq + 1, semi)).trim();
    if (!carries(raw, id)) continue;
    const value = proxyValue(raw);
    found = usable(value) ? value : undefined;
  }
  return found;
}

function linesOf(header: OutgoingHttpHeader | OutgoingHttpHeaders[string]): string[] {
  if (header === undefined) return [];
  return Array.isArray(header) ? header.map(String) : [String(header)];
}
