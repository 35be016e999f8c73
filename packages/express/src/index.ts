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
 * because that is what the proxy reads from requests; the bare id would never match. A session
 * ended when no head of its own is left to carry it (after a streamed head, or outside a request)
 * is POSTed to the supervisor's side channel (HANDOVER_REPORT_URL), else it rides on the next
 * response. Protocol: docs/session-reporting.md. Limits: README.md.
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
  /**
   * Where reports no response can carry go (a session destroyed after its response's head went
   * out, or outside any request): POSTed in the header's syntax, as docs/session-reporting.md's
   * side channel says. Default: `HANDOVER_REPORT_URL` and `HANDOVER_REPORT_TOKEN`, which the
   * supervisor gives every worker. `false`, or those unset: such reports ride on the worker's next
   * response instead.
   */
  sideChannel?: { url: string; token: string } | false;
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
/** The side channel takes at most 64 KiB per POST. */
const MAX_POST_BYTES = 60 * 1024;
/** On a store: the listeners its wrapped destroy() tells (one per handoverSessions() on that store). */
const DESTROY_LISTENERS = Symbol.for('@handover/express:destroy-listeners');

/** One request in flight, kept on its response (no closures per request). */
interface Context {
  readonly req: SessionRequest;
  /** The session this request carried and express-session loaded from the store. */
  entry: { id: string; value: string; originalMaxAge: unknown } | undefined;
  /** Sessions ended during this request before its head went out: id → cookie value. */
  ended: Map<string, string> | undefined;
  /** Reports taken from the shared queue for this head. */
  carried: string[];
  /** Entries that did not fit this head (4 KiB): back to the queue when the head is out. */
  leftover: string[];
  inHead: boolean;
  headSent: boolean;
  /** The X-Handover-Session lines the app set itself, kept as they are. */
  appLines: string[];
  /** The response's methods as they were before this middleware wrapped them. */
  readonly writeHead: (...args: unknown[]) => ServerResponse;
  readonly setHeader: ServerResponse['setHeader'];
  readonly appendHeader: ServerResponse['appendHeader'] | undefined;
}

const CONTEXT = Symbol.for('@handover/express:context');
type Tracked = ServerResponse & { [CONTEXT]: Context };

export function handoverSessions(options: HandoverSessionsOptions = {}): HandoverMiddleware {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError(`handoverSessions: maxEntries must be a positive integer, got ${String(options.maxEntries)}`);
  }
  /** Session id → its cookie value as the browser sends it, least recently seen first. */
  const known = new Map<string, string>();
  /** `<value>; ttl=0` entries waiting for a response head. */
  const pending: string[] = [];
  /** Session id → the requests carrying it whose heads have not gone out. */
  const inflight = new Map<string, Set<Context>>();
  const stores = new WeakSet<object>();
  const channel = options.sideChannel === undefined ? channelFromEnv() : options.sideChannel || undefined;
  /** `<value>; ttl=0` entries waiting to be posted to the side channel. */
  const outbox: string[] = [];
  let posting = false;

  function remember(id: string, value: string): void {
    known.delete(id);
    known.set(id, value);
    if (known.size > maxEntries) known.delete(known.keys().next().value as string);
  }

  function queue(entries: readonly string[], front = false): void {
    if (entries.length === 0) return;
    if (front) pending.unshift(...entries);
    else pending.push(...entries);
    if (pending.length > maxEntries) pending.splice(0, pending.length - maxEntries);
  }

  /** Reports no response of their own can carry: by the side channel, else on the next responses. */
  function late(entries: readonly string[]): void {
    if (entries.length === 0) return;
    if (channel === undefined) {
      queue(entries);
      return;
    }
    outbox.push(...entries);
    if (outbox.length > maxEntries) outbox.splice(0, outbox.length - maxEntries);
    if (!posting) {
      posting = true;
      setImmediate(() => void post(channel));
    }
  }

  /** Posts the outbox, off the request path; what cannot be delivered waits for a response. */
  async function post(to: { url: string; token: string }): Promise<void> {
    try {
      while (outbox.length > 0) {
        let bytes = 0;
        let n = 0;
        while (n < outbox.length && (n === 0 || bytes + Buffer.byteLength(outbox[n]!) + 2 <= MAX_POST_BYTES)) bytes += Buffer.byteLength(outbox[n++]!) + 2;
        const batch = outbox.splice(0, n);
        try {
          const answer = await fetch(to.url, {
            method: 'POST',
            headers: { authorization: `Bearer ${to.token}`, 'content-type': 'text/plain' },
            body: batch.join(', '),
            signal: AbortSignal.timeout(5_000),
          });
          await answer.arrayBuffer();
          // 4xx: refused for good (not this worker's token, a worker that no longer serves): dropped,
          // as the protocol says. A supervisor in trouble (5xx): the next responses carry them.
          if (answer.status >= 500) queue(batch);
        } catch {
          queue(batch); // the supervisor is not reachable: the next responses carry them
        }
      }
    } finally {
      posting = false;
    }
  }

  /** A store destroyed `id`: report it on its own request's head if that is still to come, else late. */
  function destroyed(id: string): void {
    const value = known.get(id);
    if (value === undefined) return; // never sent to a browser by this process: nothing bound to it
    known.delete(id);
    // Every request of that session still to answer says so (and none reports it as used).
    let carried = false;
    for (const ctx of inflight.get(id) ?? NO_CONTEXTS) {
      if (ctx.headSent) continue;
      (ctx.ended ??= new Map()).set(id, value);
      carried = true;
    }
    if (!carried) late([`${value}; ttl=0`]);
  }

  /** The report for this head, from the state as it is now. */
  function report(ctx: Context, res: ServerResponse): string[] {
    const entries: string[] = [];
    const { entry, ended, req } = ctx;
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
      } else if (entry !== undefined && entry.id === current && !ended?.has(current)) {
        entries.push(entry.value + ttl(session.cookie?.originalMaxAge));
      }
      // A session generated by this request and not sent (saveUninitialized: false, unmodified) is not reported.
    } else if (entry !== undefined && !ended?.has(entry.id)) {
      // `req.session = null` without unset:'destroy': the store keeps the session.
      entries.push(entry.value + ttl(entry.originalMaxAge));
    }
    if (ended !== undefined) for (const value of ended.values()) entries.push(`${value}; ttl=0`);
    for (const entry of ctx.carried) entries.push(entry);
    return entries;
  }

  /** Sets the header to the current report (and the app's own lines), within 4 KiB. */
  function apply(ctx: Context, res: ServerResponse): void {
    const entries = report(ctx, res);
    let fit = '';
    const leftover: string[] = [];
    let bytes = 0;
    for (const entry of entries) {
      const cost = Buffer.byteLength(entry) + (fit === '' ? 0 : 2);
      // The session this request used is first and always goes; ended ones wait when full.
      if (fit !== '' && bytes + cost > MAX_HEADER_BYTES) {
        if (entry.endsWith('; ttl=0')) leftover.push(entry);
        continue;
      }
      fit = fit === '' ? entry : `${fit}, ${entry}`;
      bytes += cost;
    }
    ctx.leftover = leftover;
    if (fit === '' && ctx.appLines.length === 0) {
      if (res.hasHeader(HEADER)) res.removeHeader(HEADER);
      return;
    }
    ctx.setHeader.call(res, HEADER, fit === '' ? ctx.appLines : ctx.appLines.length === 0 ? fit : [...ctx.appLines, fit]);
  }

  function settle(ctx: Context): void {
    if (ctx.entry === undefined) return;
    const set = inflight.get(ctx.entry.id);
    if (set === undefined || !set.delete(ctx)) return;
    if (set.size === 0) inflight.delete(ctx.entry.id);
  }

  // The wrappers, shared by all responses: each finds its request's context on the response.

  // express-session sets its cookie in a listener that runs inside writeHead, after this
  // wrapper has started (on-headers wrappers run newest first): its Set-Cookie is seen here
  // and the report redone before the head is written.
  function setHeader(this: Tracked, name: string, value: number | string | readonly string[]) {
    const ctx = this[CONTEXT];
    const result = ctx.setHeader.call(this, name, value);
    if (ctx.inHead && name.length === 10 && name.toLowerCase() === 'set-cookie') apply(ctx, this);
    return result;
  }

  function appendHeader(this: Tracked, name: string, value: string | readonly string[]) {
    const ctx = this[CONTEXT];
    const result = ctx.appendHeader!.call(this, name, value);
    if (ctx.inHead && name.length === 10 && name.toLowerCase() === 'set-cookie') apply(ctx, this);
    return result;
  }

  function writeHead(this: Tracked, ...args: unknown[]) {
    const ctx = this[CONTEXT];
    if (ctx.headSent || ctx.inHead) return ctx.writeHead.apply(this, args);
    ctx.inHead = true;
    ctx.appLines = linesOf(this.getHeader(HEADER));
    ctx.carried = pending.length === 0 ? ctx.carried : pending.splice(0);
    try {
      apply(ctx, this);
      return ctx.writeHead.apply(this, args);
    } finally {
      ctx.inHead = false;
      if (this.headersSent) {
        ctx.headSent = true;
        late(ctx.leftover);
        settle(ctx);
      } else {
        // The head did not go out (writeHead threw): everything taken waits for the next one.
        queue(ctx.carried, true);
      }
      ctx.carried = NONE;
      ctx.leftover = NONE;
    }
  }

  function onClose(this: Tracked) {
    const ctx = this[CONTEXT];
    settle(ctx);
    if (!ctx.headSent) {
      // No head went out (the client left first): the sessions this request ended wait for the next one.
      ctx.headSent = true;
      if (ctx.ended !== undefined) late([...ctx.ended.values()].map((value) => `${value}; ttl=0`));
    }
  }

  return function handoverSessions(rawReq, rawRes, next) {
    const req = rawReq as SessionRequest;
    const res = rawRes as Tracked;
    if ((res as Partial<Tracked>)[CONTEXT] !== undefined) {
      next(); // mounted twice (or in a sub-app as well): the first one reports
      return;
    }
    const store = req.sessionStore;
    if (store !== undefined && store !== null && !stores.has(store)) {
      stores.add(store);
      listenForDestroy(store, destroyed);
    }

    const ctx: Context = {
      req,
      entry: undefined,
      ended: undefined,
      carried: NONE,
      leftover: NONE,
      inHead: false,
      headSent: false,
      appLines: NONE,
      writeHead: res.writeHead as Context['writeHead'],
      setHeader: res.setHeader,
      appendHeader: res.appendHeader,
    };
    const id = req.sessionID;
    if (typeof id === 'string' && req.session) {
      // Found in the request's cookies only when express-session loaded it: an id it generated
      // anew (no cookie, a stale or forged one) is in no cookie.
      const value = requestCookieFor(req.headers.cookie, id);
      if (value !== undefined) {
        ctx.entry = { id, value, originalMaxAge: req.session.cookie?.originalMaxAge };
        remember(id, value);
        const set = inflight.get(id);
        if (set === undefined) inflight.set(id, new Set([ctx]));
        else set.add(ctx);
      }
    }

    res[CONTEXT] = ctx;
    rawRes.writeHead = writeHead as ServerResponse['writeHead'];
    rawRes.setHeader = setHeader as ServerResponse['setHeader'];
    if (typeof ctx.appendHeader === 'function') rawRes.appendHeader = appendHeader as ServerResponse['appendHeader'];
    res.on('close', onClose);
    next();
  };
}

/** An empty list, shared (never written to). */
const NONE: string[] = [];
const NO_CONTEXTS: ReadonlySet<Context> = new Set();

/** The side channel the supervisor gives each worker, when both variables are set. */
function channelFromEnv(): { url: string; token: string } | undefined {
  const url = process.env.HANDOVER_REPORT_URL;
  const token = process.env.HANDOVER_REPORT_TOKEN;
  return url && token ? { url, token } : undefined;
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
  // The usual forms first, without decoding: URL-encoded as express-session writes it, or raw.
  if (value.startsWith('s%3A')) {
    if (value.startsWith(id, 4) && value.charCodeAt(4 + id.length) === 46 /* . */) return true;
  } else if (value.startsWith('s:')) {
    if (value.startsWith(id, 2) && value.charCodeAt(2 + id.length) === 46) return true;
  } else if (!value.startsWith('"') && !value.startsWith('%')) {
    return false; // decodes to something not starting with "s:"
  }
  // Anything else as the `cookie` parser under express-session reads it: a leading quote
  // stripped (with the last character), then URL-decoded.
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
