/**
 * The lean engine: HTTP/1.1 on raw `net` sockets with Node's own llhttp parser (strict), one
 * parser per client connection and one per pooled worker connection.
 *
 * Per request: the client head is parsed once into a flat [name, value, …] list; the session id
 * is cut out of the Cookie value (passes/find-session); the routing decision is one
 * SessionTable lookup (passes/choose-upstream); the forwarded head is written as one latin1
 * string; bodies are written through as the parser hands them over (never buffered beyond the
 * chunk in hand); the worker connection comes from a LIFO pool per worker and goes back to it.
 * The objects per request are the Exchange and the strings of the two heads. Event handlers are
 * module-level functions bound once per connection, never per request.
 *
 * WebSocket upgrades are handed to websocket.ts (the same code as the node:http engine).
 */
import http, { type IncomingMessage } from 'node:http';
import net, { type Socket } from 'node:net';
import { accountResponse } from '../passes/account-response';
import { chooseUpstream, fallbackUpstream } from '../passes/choose-upstream';
import { findSessionId } from '../passes/find-session';
import { BODY_CHUNKED, BODY_NONE, type BodyKind } from '../passes/forward-headers';
import { notifyRelease, textHead, type SharedState } from '../state';
import type { ProxyOptions, ProxyServer, Upstream } from '../types';
import { handleUpgrade } from '../websocket';
import { informationalHead, OUT_CHUNKED, OUT_NONE, OUT_RAW, type OutMode, requestHead, responseHead } from './heads';
import { listenServer } from '../listen';
import {
  HTTPParser,
  kOnBody,
  kOnHeaders,
  kOnHeadersComplete,
  kOnExecute,
  kOnMessageBegin,
  kOnMessageComplete,
  METHODS,
  PARSER_RESOURCE,
  type ParseError,
  type Parser,
  REQUEST,
  RESPONSE,
  STRICT,
} from './llhttp';

const DEFAULTS = {
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 300_000,
  connectionsCheckingIntervalMs: 1_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderSize: 16_384,
  upstreamConnectTimeoutMs: 5_000,
  /** Idle limit of a pooled worker connection when the worker announces no keep-alive timeout. */
  upstreamKeepAliveMs: 4_000,
  /**
   * Idle limit when the worker announces `Keep-Alive: timeout=N` (N − 1 s), at most this (as
   * nginx's upstream keepalive_timeout). A pool that outlives a pause means a burst of new client
   * connections does not also open a burst of worker connections (see NOTES.md, p99 at 200).
   */
  upstreamKeepAliveHintedMaxMs: 60_000,
};

/** Idle worker connections kept per worker; more are closed (as http.Agent's maxFreeSockets). */
const MAX_IDLE_PER_UPSTREAM = 256;

/** Client socket pause reasons (a bit mask; the socket reads again when none is left). */
const PAUSE_UPSTREAM_FULL = 1; // the worker connection does not take the body fast enough
const PAUSE_CONNECTING = 2; // the body is held back until the worker connection is up
const PAUSE_PIPELINED = 4; // a pipelined request waits for the one before it

interface LeanState extends SharedState {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderSize: number;
  readonly upstreamKeepAliveMs: number;
  /** The most a worker's Keep-Alive hint may keep a pooled connection idle. */
  readonly upstreamKeepAliveHintedMaxMs: number;
  /** Requests received and not yet finished (healthz and error answers included). */
  active: number;
  idle: (() => void) | undefined;
  readonly conns: Set<ClientConn>;
  /** Idle worker connections per worker, most recently used last. */
  readonly pools: Map<Upstream, UpConn[]>;
}

/** One request on its way through the proxy. */
class Exchange {
  sessionId: string | undefined = undefined;
  upstream: Upstream | undefined = undefined;
  /** Holds one unit of upstream.inFlight. */
  counted = false;
  /** Counted in state.active. */
  active = false;
  up: UpConn | undefined = undefined;
  head = '';
  body: BodyKind = BODY_NONE;
  /** Body chunks parsed before the worker connection was up (sent once it is). */
  pending: Buffer[] | undefined = undefined;
  /** The client's request has been parsed to its end. */
  requestDone = false;
  /** The head went to the worker. */
  headSent = false;
  bodyStarted = false;
  connected = false;
  reused = false;
  retried = false;
  /** A response head went (or is going) to the client. */
  responded = false;
  responseDone = false;
  /** The current response from the worker is a 1xx. */
  informational = false;
  /** The proxy answers itself; the request body is read and dropped. */
  local = false;
  finished = false;
  out: OutMode = OUT_NONE;
  /** A response head not written yet (merged with the first body bytes). */
  outHead: string | undefined = undefined;
  constructor(
    readonly conn: ClientConn,
    readonly method: string,
    /** The request target; rewritten to origin form when it came in absolute form. */
    public url: string,
    readonly raw: string[],
    readonly keepAlive: boolean,
    readonly http10: boolean,
  ) {}
}

const kConn = Symbol('handover.conn');
const kUp = Symbol('handover.up');
interface ConnSocket extends Socket {
  [kConn]?: ClientConn;
}
interface UpSocket extends Socket {
  [kUp]?: UpConn;
}
interface OwnedParser extends Parser {
  conn: ClientConn | undefined;
  up: UpConn | undefined;
}

/** The libuv stream handle of a net.Socket (what the parser consumes). */
interface StreamHandle {
  isStreamBase?: boolean;
  reading?: boolean;
  readStart(): number;
  readStop(): number;
}

function handleOf(socket: Socket): StreamHandle | undefined {
  return (socket as unknown as { _handle?: StreamHandle | null })._handle ?? undefined;
}

/**
 * Lets the parser read the socket itself: no JS stream in between, no Buffer per read (node:http's
 * server does the same). EOF and errors still reach the socket ('end', 'close'). Returns whether
 * it could (a TCP socket always can).
 */
function consume(parser: Parser, socket: Socket): boolean {
  const handle = handleOf(socket) as (StreamHandle & { _consumed?: boolean }) | undefined;
  if (handle === undefined || handle.isStreamBase !== true || handle._consumed === true) return false;
  handle._consumed = true;
  parser.consume(handle);
  return true;
}

/** Stops reading a socket (backpressure); for consumed sockets at the handle, where the data goes. */
function stopReading(socket: Socket, consumed: boolean): void {
  if (!consumed) {
    socket.pause();
    return;
  }
  const handle = handleOf(socket);
  if (handle !== undefined && handle.reading === true) {
    handle.reading = false;
    handle.readStop();
  }
}

function startReading(socket: Socket, consumed: boolean): void {
  if (!consumed) {
    socket.resume();
    return;
  }
  const handle = handleOf(socket);
  if (handle !== undefined && handle.reading === false) {
    handle.reading = true;
    handle.readStart();
  }
}

function closeParser(parser: Parser): void {
  parser.close();
}

/** A client connection. */
class ClientConn {
  readonly parser: OwnedParser;
  /** The oldest unfinished exchange (the one being answered). */
  current: Exchange | undefined = undefined;
  /** The exchange whose request is being parsed (head done, body under way). */
  parsing: Exchange | undefined = undefined;
  /** Pipelined requests behind `current` (rare). */
  queue: Exchange[] | undefined = undefined;
  /** An upgrade head was parsed. */
  upgrade: Exchange | undefined = undefined;
  /** Partial head from kOnHeaders (heads with more than 32 header lines). */
  headers: string[] | undefined = undefined;
  url = '';
  /** A message is being received (its head or body); since msgStart. */
  inMessage = true;
  headDone = false;
  msgStart: number;
  idleSince: number;
  paused = 0;
  /** The client sent FIN. */
  ended = false;
  /** No more requests are read (parse error, timeout, upgrade, closing). */
  broken = false;
  dead = false;
  remote: string | undefined = undefined;
  /** The parser reads the socket's handle directly. */
  readonly consumed: boolean;
  constructor(
    readonly state: LeanState,
    readonly socket: ConnSocket,
  ) {
    this.msgStart = this.idleSince = Date.now();
    const parser = new HTTPParser() as OwnedParser;
    parser.initialize(REQUEST, PARSER_RESOURCE, state.maxHeaderSize, STRICT);
    parser[kOnMessageBegin] = onRequestBegin;
    parser[kOnHeaders] = onPartialHeaders;
    parser[kOnHeadersComplete] = onRequestHead;
    parser[kOnBody] = onRequestBody;
    parser[kOnMessageComplete] = onRequestEnd;
    parser[kOnExecute] = onClientExecute;
    parser.conn = this;
    parser.up = undefined;
    this.parser = parser;
    this.consumed = consume(parser, socket);
  }
}

/** A connection to a worker, pooled between requests. */
class UpConn {
  readonly parser: OwnedParser;
  readonly socket: UpSocket;
  ex: Exchange | undefined = undefined;
  /** The worker's last response allows reuse. */
  keepAlive = false;
  idleSince = 0;
  idleLimitMs: number;
  connected = false;
  dead = false;
  errorCode: string | undefined = undefined;
  /** Bytes came while no request was out. */
  stray = false;
  timer: NodeJS.Timeout | undefined = undefined;
  headers: string[] | undefined = undefined;
  readonly consumed: boolean;
  constructor(
    readonly state: LeanState,
    readonly upstream: Upstream,
  ) {
    this.idleLimitMs = state.upstreamKeepAliveMs;
    const parser = new HTTPParser() as OwnedParser;
    parser.initialize(RESPONSE, PARSER_RESOURCE, state.maxHeaderSize, STRICT);
    parser[kOnHeaders] = onPartialHeaders;
    parser[kOnHeadersComplete] = onResponseHead;
    parser[kOnBody] = onResponseBody;
    parser[kOnMessageComplete] = onResponseEnd;
    parser[kOnExecute] = onUpExecute;
    parser.conn = undefined;
    parser.up = this;
    this.parser = parser;
    const socket = net.connect({ host: upstream.host, port: upstream.port, noDelay: true }) as UpSocket;
    this.consumed = consume(parser, socket);
    socket[kUp] = this;
    socket.on('connect', onUpConnect);
    socket.on('data', onUpData);
    socket.on('end', onUpEnd);
    socket.on('close', onUpClose);
    socket.on('error', onUpError);
    socket.on('drain', onUpDrain);
    this.socket = socket;
    this.timer = setTimeout(onConnectTimeout, state.connectTimeoutMs, this);
  }
}

// ---------------------------------------------------------------------------------------------
// Client side

function onConnection(state: LeanState, socket: Socket): void {
  if (state.closing) {
    socket.destroy();
    return;
  }
  const conn = new ClientConn(state, socket);
  (socket as ConnSocket)[kConn] = conn;
  state.conns.add(conn);
  socket.on('data', onClientData);
  socket.on('end', onClientEnd);
  socket.on('close', onClientClose);
  socket.on('error', onSocketError);
  socket.on('drain', onClientDrain);
}

function onSocketError(this: Socket): void {
  // 'close' follows and does the cleanup.
}

/** Bytes from a client socket the parser does not consume (not a TCP handle): parse them here. */
function onClientData(this: ConnSocket, chunk: Buffer): void {
  const conn = this[kConn] as ClientConn;
  if (conn.broken) return;
  afterClientParse(conn, conn.parser.execute(chunk), chunk);
}

/** The parser read and parsed a chunk from the client socket itself. */
function onClientExecute(this: OwnedParser, ret: number | ParseError): void {
  const conn = this.conn as ClientConn;
  if (conn.broken) return;
  afterClientParse(conn, ret, undefined);
}

/**
 * After a chunk is parsed (never inside it, so a request whose bytes turn out malformed in the
 * same chunk never reaches a worker): errors, upgrades, and starting the current request.
 */
function afterClientParse(conn: ClientConn, ret: number | ParseError, chunk: Buffer | undefined): void {
  try {
    if (typeof ret !== 'number') return parseFailed(conn, ret);
    if (conn.upgrade !== undefined) return startUpgrade(conn, chunk ?? conn.parser.getCurrentBuffer(), ret);
    const ex = conn.current;
    if (ex !== undefined && ex.upstream === undefined && !ex.local) start(ex);
  } catch (error) {
    conn.state.onError(error);
    conn.socket.destroy();
  }
}

function onRequestBegin(this: OwnedParser): void {
  const conn = this.conn as ClientConn;
  conn.inMessage = true;
  conn.headDone = false;
  conn.msgStart = Date.now();
}

function onPartialHeaders(this: OwnedParser, headers: string[], url: string): void {
  const owner = (this.conn ?? this.up) as { headers: string[] | undefined; url?: string };
  if (owner.headers === undefined) owner.headers = headers;
  else owner.headers.push(...headers);
  if (url && this.conn !== undefined) this.conn.url += url;
}

function onRequestHead(
  this: OwnedParser,
  versionMajor: number,
  versionMinor: number,
  headers: string[] | undefined,
  method: number,
  url: string | undefined,
  _status: unknown,
  _reason: unknown,
  upgrade: boolean,
  keepAlive: boolean,
): number {
  const conn = this.conn as ClientConn;
  conn.headDone = true;
  if (headers === undefined || conn.headers !== undefined) {
    headers = headers === undefined ? (conn.headers ?? []) : [...(conn.headers ?? []), ...headers];
    conn.headers = undefined;
  }
  if (!url) {
    url = conn.url;
    conn.url = '';
  }
  const http10 = versionMajor === 1 && versionMinor === 0;
  const ex = new Exchange(conn, METHODS[method] ?? 'GET', url, headers, keepAlive && !http10, http10);
  if (upgrade) {
    conn.upgrade = ex;
    return 0;
  }
  ex.active = true;
  conn.state.active++;
  conn.parsing = ex;
  if (conn.current === undefined) conn.current = ex;
  else {
    (conn.queue ??= []).push(ex);
    pauseConn(conn, PAUSE_PIPELINED);
  }
  return 0;
}

function onRequestBody(this: OwnedParser, chunk: Buffer): void {
  const ex = (this.conn as ClientConn).parsing;
  if (ex === undefined || ex.local || ex.finished) return;
  if (ex.headSent) {
    writeBody(ex, ex.up as UpConn, chunk);
    return;
  }
  (ex.pending ??= []).push(chunk);
}

function onRequestEnd(this: OwnedParser): void {
  const conn = this.conn as ClientConn;
  conn.inMessage = false;
  const ex = conn.parsing;
  if (ex === undefined) return;
  conn.parsing = undefined;
  ex.requestDone = true;
  if (ex.finished) return;
  if (ex.headSent && ex.body === BODY_CHUNKED) (ex.up as UpConn).socket.write('0\r\n\r\n', 'latin1');
  if (ex.responseDone) finish(ex);
}

/**
 * An absolute-form target as origin form plus the authority that replaces Host (RFC 9112
 * §3.2.2: a server MUST ignore Host then), so workers only ever see "/path". `*` is kept for
 * OPTIONS only. Undefined → 400: another scheme, no or a user-info authority, or `*` elsewhere.
 */
function toOriginForm(url: string, method: string): { path: string; authority: string | undefined } | undefined {
  if (url === '*') return method === 'OPTIONS' ? { path: url, authority: undefined } : undefined;
  const lower = url.slice(0, 8).toLowerCase();
  const start = lower.startsWith('http://') ? 7 : lower.startsWith('https://') ? 8 : -1;
  if (start === -1) return undefined;
  let end = start;
  while (end < url.length && url[end] !== '/' && url[end] !== '?' && url[end] !== '#') end++;
  const authority = url.slice(start, end);
  if (authority === '' || authority.includes('@')) return undefined;
  const rest = url.slice(end);
  return { path: rest === '' ? '/' : rest.charCodeAt(0) === 47 ? rest : `/${rest}`, authority };
}

function isHealthz(url: string): boolean {
  return url === '/healthz' || url.startsWith('/healthz?');
}

/** The exchange became current: answer it here or send it to a worker. */
function start(ex: Exchange): void {
  const conn = ex.conn;
  const state = conn.state;
  let authority: string | undefined;
  if (ex.url.charCodeAt(0) !== 47 /* / */) {
    // Rare: absolute form ("http://host/path", RFC 9112 §3.2.2) or "*"; llhttp refused the rest.
    const target = toOriginForm(ex.url, ex.method);
    if (target === undefined) return reply(ex, 400, 'Bad Request', 'Bad Request\n', false, true);
    ex.url = target.path;
    authority = target.authority;
  }
  if (isHealthz(ex.url)) return reply(ex, 200, 'OK', 'ok\n', false);
  const route = state.route;
  ex.sessionId = findSessionId(ex.raw, ex.url, route);
  const upstream = chooseUpstream(route, ex.sessionId, ex.raw);
  if (upstream === undefined) return reply(ex, 503, 'Service Unavailable', 'No worker is ready; retry shortly.\n', true);
  conn.remote ??= conn.socket.remoteAddress ?? '';
  const head = requestHead(ex.method, ex.url, ex.raw, conn.remote, state.trustForwarded, upstream, authority);
  // HTTP/1.1 requires Host (node:http answers 400 without it, so does this engine).
  if (!head.host && !ex.http10) return reply(ex, 400, 'Bad Request', 'Bad Request\n', false, true);
  ex.head = head.head;
  ex.body = head.body;
  dispatch(ex, upstream, false);
}

/** Sends the exchange to a worker (again, on a retry), counting it in the worker's inFlight. */
function dispatch(ex: Exchange, upstream: Upstream, fresh: boolean): void {
  const state = ex.conn.state;
  ex.upstream = upstream;
  upstream.inFlight++;
  ex.counted = true;
  ex.connected = false;
  ex.reused = false;
  const up = fresh ? undefined : takeIdle(state, upstream);
  if (up !== undefined) {
    up.ex = ex;
    ex.up = up;
    ex.reused = true;
    ex.connected = true;
    sendHead(ex, up);
    return;
  }
  const created = new UpConn(state, upstream);
  created.ex = ex;
  ex.up = created;
  // Hold the body back until the connection is up, so a refused connection can be retried.
  if (!ex.requestDone) pauseConn(ex.conn, PAUSE_CONNECTING);
}

function sendHead(ex: Exchange, up: UpConn): void {
  const socket = up.socket;
  ex.headSent = true;
  const pending = ex.pending;
  if (pending === undefined) {
    socket.write(ex.requestDone && ex.body === BODY_CHUNKED ? `${ex.head}0\r\n\r\n` : ex.head, 'latin1');
  } else {
    ex.pending = undefined;
    socket.cork();
    socket.write(ex.head, 'latin1');
    for (const chunk of pending) writeBody(ex, up, chunk);
    if (ex.requestDone && ex.body === BODY_CHUNKED) socket.write('0\r\n\r\n', 'latin1');
    socket.uncork();
  }
  if (ex.body !== BODY_NONE) ex.bodyStarted = true;
  resumeConn(ex.conn, PAUSE_CONNECTING);
}

function writeBody(ex: Exchange, up: UpConn, chunk: Buffer): void {
  const socket = up.socket;
  let ok: boolean;
  if (ex.body === BODY_CHUNKED) {
    socket.cork();
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    ok = socket.write('\r\n', 'latin1');
    socket.uncork();
  } else ok = socket.write(chunk);
  if (!ok) pauseConn(ex.conn, PAUSE_UPSTREAM_FULL);
}

function onUpDrain(this: UpSocket): void {
  const ex = (this[kUp] as UpConn).ex;
  if (ex !== undefined) resumeConn(ex.conn, PAUSE_UPSTREAM_FULL);
}

function onClientDrain(this: ConnSocket): void {
  const up = (this[kConn] as ClientConn).current?.up;
  if (up !== undefined && !up.dead) startReading(up.socket, up.consumed);
}

function pauseConn(conn: ClientConn, reason: number): void {
  if (conn.paused === 0) stopReading(conn.socket, conn.consumed);
  conn.paused |= reason;
}

function resumeConn(conn: ClientConn, reason: number): void {
  if ((conn.paused & reason) === 0) return;
  conn.paused &= ~reason;
  if (conn.paused === 0 && !conn.dead && !conn.broken) startReading(conn.socket, conn.consumed);
}

/** An answer made by the proxy itself (healthz, 503, 502, 400). */
function reply(ex: Exchange, status: number, reason: string, body: string, retryAfter: boolean, close = false): void {
  const conn = ex.conn;
  ex.local = true;
  ex.pending = undefined;
  resumeConn(conn, PAUSE_CONNECTING);
  if (ex.responded) {
    conn.socket.destroy();
    return;
  }
  ex.responded = true;
  ex.responseDone = true;
  if (close) conn.broken = true;
  const closeAfter = close || conn.state.closing || !ex.keepAlive;
  if (!conn.dead) {
    conn.socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        (retryAfter ? 'Retry-After: 1\r\n' : '') +
        (closeAfter ? 'Connection: close\r\n' : '') +
        `\r\n${body}`,
      'latin1',
    );
  }
  if (close) {
    finish(ex);
    return;
  }
  if (ex.requestDone) finish(ex);
}

/** The exchange is over (answered, and its request read): free the connection for the next. */
function finish(ex: Exchange): void {
  if (ex.finished) return;
  ex.finished = true;
  const conn = ex.conn;
  const state = conn.state;
  release(ex);
  if (conn.current === ex) conn.current = undefined;
  const queue = conn.queue;
  if (!ex.keepAlive || conn.broken) {
    endConn(conn);
  } else if (queue !== undefined && queue.length > 0) {
    const next = queue.shift() as Exchange;
    conn.current = next;
    resumeConn(conn, PAUSE_PIPELINED);
    // Not from inside the worker's parser callback that got us here.
    process.nextTick(startNext, next);
  } else if (state.closing || conn.ended) {
    endConn(conn);
  } else {
    conn.idleSince = Date.now();
  }
  if (ex.active) {
    ex.active = false;
    state.active--;
    if (state.active === 0 && state.idle !== undefined) state.idle();
  }
}

function startNext(ex: Exchange): void {
  if (ex.finished || ex.conn.dead || ex.upstream !== undefined || ex.local) return;
  try {
    start(ex);
  } catch (error) {
    ex.conn.state.onError(error);
    ex.conn.socket.destroy();
  }
}

/** Ends the client connection once what was written is flushed. */
function endConn(conn: ClientConn): void {
  conn.broken = true;
  if (conn.queue !== undefined) for (const queued of conn.queue.splice(0)) abort(queued);
  if (!conn.dead) conn.socket.destroySoon();
}

/** Gives back the exchange's unit of inFlight, exactly once per dispatch. */
function release(ex: Exchange): void {
  if (!ex.counted) return;
  ex.counted = false;
  const upstream = ex.upstream as Upstream;
  upstream.inFlight--;
  notifyRelease(ex.conn.state, upstream);
}

/** The client is gone or the exchange cannot go on: stop the worker's side too. */
function abort(ex: Exchange): void {
  if (ex.finished) return;
  ex.finished = true;
  const up = ex.up;
  if (up !== undefined) {
    ex.up = undefined;
    up.ex = undefined;
    up.socket.destroy();
  }
  release(ex);
  if (ex.active) {
    ex.active = false;
    const state = ex.conn.state;
    state.active--;
    if (state.active === 0 && state.idle !== undefined) state.idle();
  }
}

function onClientEnd(this: ConnSocket): void {
  // As node:http (httpAllowHalfOpen false): a client that ends its side abandons what is under
  // way; the connection is closed once written data is flushed.
  const conn = this[kConn] as ClientConn;
  conn.ended = true;
  if (conn.current !== undefined) abort(conn.current);
  if (conn.parsing !== undefined) abort(conn.parsing);
  endConn(conn);
}

function onClientClose(this: ConnSocket): void {
  const conn = this[kConn] as ClientConn;
  if (conn.dead) return;
  conn.dead = true;
  conn.state.conns.delete(conn);
  const current = conn.current;
  if (current !== undefined) abort(current);
  if (conn.parsing !== undefined) abort(conn.parsing);
  if (conn.queue !== undefined) for (const queued of conn.queue.splice(0)) abort(queued);
  if (conn.consumed) conn.parser.unconsume();
  setImmediate(closeParser, conn.parser);
}

/** llhttp rejected the bytes: 400 (431 for a head too large), never forwarded, then close. */
function parseFailed(conn: ClientConn, error: ParseError): void {
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  failConn(conn, status, status === 431 ? 'Request Header Fields Too Large' : 'Bad Request');
}

function failConn(conn: ClientConn, status: number, reason: string): void {
  conn.broken = true;
  const socket = conn.socket;
  const current = conn.current;
  const midResponse = current !== undefined && current.responded && !current.responseDone;
  if (current !== undefined) abort(current);
  if (conn.parsing !== undefined) abort(conn.parsing);
  if (conn.queue !== undefined) for (const queued of conn.queue.splice(0)) abort(queued);
  if (midResponse || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.write(textHead(status, reason, `${reason}\n`, false), 'latin1');
  // A half-open client must not keep the socket: closed once the answer is flushed.
  socket.destroySoon();
}

/** The head asked for an upgrade: hand the socket to the WebSocket code (same as node:http's 'upgrade'). */
function startUpgrade(conn: ClientConn, chunk: Buffer, parsed: number): void {
  const ex = conn.upgrade as Exchange;
  const socket = conn.socket;
  conn.broken = true;
  conn.dead = true;
  conn.state.conns.delete(conn);
  socket.removeListener('data', onClientData);
  socket.removeListener('end', onClientEnd);
  socket.removeListener('close', onClientClose);
  socket.removeListener('drain', onClientDrain);
  // From here the socket's own stream gets the bytes again, held until the tunnel pipes them.
  socket.pause();
  if (conn.consumed) {
    conn.parser.unconsume();
    startReading(socket, true);
  }
  // Maybe inside the parser's own callback: close it once the stack has unwound.
  setImmediate(closeParser, conn.parser);
  if (ex.method === 'CONNECT' || conn.current !== undefined) {
    if (conn.current !== undefined) abort(conn.current);
    socket.destroy();
    return;
  }
  // WebSocket clients send origin form; anything else ("http://h/ws", "*") is not worth forwarding.
  if (ex.url.charCodeAt(0) !== 47 /* / */) {
    socket.end(textHead(400, 'Bad Request', 'Bad Request\n', false));
    return;
  }
  const req = { method: ex.method, url: ex.url, rawHeaders: ex.raw, headers: {}, socket } as unknown as IncomingMessage;
  handleUpgrade(conn.state, req, socket, chunk.subarray(parsed));
}

// ---------------------------------------------------------------------------------------------
// Worker side

function takeIdle(state: LeanState, upstream: Upstream): UpConn | undefined {
  const list = state.pools.get(upstream);
  if (list === undefined || list.length === 0) return undefined;
  const now = Date.now();
  while (list.length > 0) {
    const up = list.pop() as UpConn;
    if (!up.dead && now - up.idleSince < up.idleLimitMs) return up;
    up.dead = true;
    up.socket.destroy();
  }
  return undefined;
}

function toPool(up: UpConn): void {
  const state = up.state;
  up.ex = undefined;
  if (state.closing || up.dead) {
    up.socket.destroy();
    return;
  }
  let list = state.pools.get(up.upstream);
  if (list === undefined) state.pools.set(up.upstream, (list = []));
  if (list.length >= MAX_IDLE_PER_UPSTREAM) {
    up.socket.destroy();
    return;
  }
  up.idleSince = Date.now();
  startReading(up.socket, up.consumed);
  list.push(up);
}

function removeFromPool(up: UpConn): void {
  const list = up.state.pools.get(up.upstream);
  if (list === undefined) return;
  const at = list.indexOf(up);
  if (at !== -1) list.splice(at, 1);
  if (list.length === 0) up.state.pools.delete(up.upstream);
}

function onUpConnect(this: UpSocket): void {
  const up = this[kUp] as UpConn;
  up.connected = true;
  if (up.timer !== undefined) {
    clearTimeout(up.timer);
    up.timer = undefined;
  }
  const ex = up.ex;
  if (ex === undefined) return;
  ex.connected = true;
  try {
    sendHead(ex, up);
  } catch (error) {
    up.state.onError(error);
    ex.conn.socket.destroy();
  }
}

function onConnectTimeout(up: UpConn): void {
  up.timer = undefined;
  if (up.connected) return;
  up.errorCode = 'ETIMEDOUT';
  up.socket.destroy();
}

function onUpError(this: UpSocket, error: NodeJS.ErrnoException): void {
  const up = this[kUp] as UpConn;
  up.errorCode ??= error.code ?? 'EUNKNOWN';
}

/** Bytes from a worker socket the parser does not consume: parse them here. */
function onUpData(this: UpSocket, chunk: Buffer): void {
  const up = this[kUp] as UpConn;
  if (up.ex === undefined) return unexpectedBytes(up);
  try {
    afterUpParse(up, up.parser.execute(chunk));
  } catch (error) {
    upFailedHard(up, error);
  }
}

/** The parser read and parsed a chunk from the worker socket itself (the exchange may be over by now). */
function onUpExecute(this: OwnedParser, ret: number | ParseError): void {
  const up = this.up as UpConn;
  try {
    afterUpParse(up, ret);
  } catch (error) {
    upFailedHard(up, error);
  }
}

function afterUpParse(up: UpConn, ret: number | ParseError): void {
  const ex = up.ex;
  if (up.stray) return unexpectedBytes(up);
  if (typeof ret !== 'number') return ex === undefined ? unexpectedBytes(up) : badResponse(up, ex);
  // A head whose body has not come yet goes out now.
  if (ex !== undefined && ex.outHead !== undefined && !ex.finished) flushHead(ex);
}

/** Bytes from an idle worker connection: nothing asked for them. */
function unexpectedBytes(up: UpConn): void {
  up.dead = true;
  up.socket.destroy();
}

function upFailedHard(up: UpConn, error: unknown): void {
  up.state.onError(error);
  up.dead = true;
  up.socket.destroy();
  up.ex?.conn.socket.destroy();
}

function onUpEnd(this: UpSocket): void {
  const up = this[kUp] as UpConn;
  up.dead = true;
  const ex = up.ex;
  // A response framed by the end of the connection is complete now.
  if (ex !== undefined && ex.responded) {
    const error = up.parser.finish();
    if (error === undefined && ex.outHead !== undefined && !ex.finished) flushHead(ex);
  }
}

function onUpClose(this: UpSocket): void {
  const up = this[kUp] as UpConn;
  up.dead = true;
  if (up.timer !== undefined) {
    clearTimeout(up.timer);
    up.timer = undefined;
  }
  removeFromPool(up);
  if (up.consumed) up.parser.unconsume();
  setImmediate(closeParser, up.parser);
  const ex = up.ex;
  if (ex === undefined) return;
  up.ex = undefined;
  if (ex.up === up) ex.up = undefined;
  if (ex.finished) return;
  if (ex.responded) {
    // The worker's connection ended mid-response: the client must see a failure, not a short answer.
    abort(ex);
    ex.conn.socket.destroy();
    return;
  }
  upstreamFailed(ex, up);
}

function isIdempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** No response came: retry once where nothing is lost or doubled, else 502. */
function upstreamFailed(ex: Exchange, up: UpConn): void {
  if (ex.conn.dead) return abort(ex);
  let next: Upstream | undefined;
  if (!ex.retried && !ex.bodyStarted) {
    const failed = ex.upstream as Upstream;
    if (!ex.connected) next = fallbackUpstream(ex.conn.state.route, failed);
    else if (ex.reused && ex.body === BODY_NONE && isIdempotent(ex.method) && (up.errorCode === undefined || up.errorCode === 'ECONNRESET')) {
      // A pooled connection the worker closed just as it was reused: a fresh one to the same worker.
      next = failed.routable ? failed : undefined;
    }
  }
  if (next !== undefined) {
    ex.retried = true;
    ex.headSent = false;
    release(ex);
    dispatch(ex, next, true);
    return;
  }
  release(ex);
  reply(ex, 502, 'Bad Gateway', 'Bad Gateway: the worker could not be reached\n', false);
}

function badResponse(up: UpConn, ex: Exchange): void {
  up.dead = true;
  up.ex = undefined;
  ex.up = undefined;
  up.socket.destroy();
  if (ex.finished) return;
  if (ex.responded) {
    abort(ex);
    ex.conn.socket.destroy();
    return;
  }
  release(ex);
  reply(ex, 502, 'Bad Gateway', 'Bad Gateway: invalid response from the worker\n', false);
}

function onResponseHead(
  this: OwnedParser,
  _versionMajor: number,
  _versionMinor: number,
  headers: string[] | undefined,
  _method: unknown,
  _url: unknown,
  status: number,
  reason: string,
  _upgrade: boolean,
  keepAlive: boolean,
): number {
  const up = this.up as UpConn;
  const ex = up.ex;
  if (headers === undefined || up.headers !== undefined) {
    headers = headers === undefined ? (up.headers ?? []) : [...(up.headers ?? []), ...headers];
    up.headers = undefined;
  }
  if (ex === undefined) {
    // A response nobody asked for (on an idle connection): the connection is dropped.
    up.stray = true;
    return 1;
  }
  if (ex.finished) return 1;
  const conn = ex.conn;
  if (status < 200 && status !== 101) {
    // 100 Continue, 103 Early Hints…: relayed; the real answer follows on the same connection.
    ex.informational = true;
    if (!conn.dead && !ex.responded) conn.socket.write(informationalHead(status, reason, headers), 'latin1');
    return 1;
  }
  ex.responded = true;
  up.keepAlive = keepAlive;
  const state = conn.state;
  // The worker made or ended the session whether or not the client is still there.
  const routeSetCookie = accountResponse(state.route, ex.upstream as Upstream, ex.sessionId, headers);
  const bodyless = ex.method === 'HEAD' || status === 204 || status === 304;
  const close = !ex.keepAlive || state.closing || conn.ended;
  const out = responseHead(status, reason ?? '', headers, bodyless, ex.http10, close, routeSetCookie);
  if (out.keepAliveHintMs > 0) {
    const hinted = out.keepAliveHintMs - 1000;
    const most = state.upstreamKeepAliveHintedMaxMs;
    up.idleLimitMs = hinted <= 0 ? 0 : hinted < most ? hinted : most;
  }
  ex.out = out.mode;
  ex.outHead = out.head;
  return ex.method === 'HEAD' ? 1 : 0;
}

/** Writes a head still waiting for body bytes. */
function flushHead(ex: Exchange): void {
  const head = ex.outHead as string;
  ex.outHead = undefined;
  const conn = ex.conn;
  if (conn.dead) return;
  if (!conn.socket.write(head, 'latin1')) pauseUp(ex);
}

function pauseUp(ex: Exchange): void {
  const up = ex.up;
  if (up !== undefined && !up.dead) stopReading(up.socket, up.consumed);
}

function onResponseBody(this: OwnedParser, chunk: Buffer): void {
  const up = this.up as UpConn;
  const ex = up.ex;
  if (ex === undefined || ex.finished || ex.informational) return;
  const conn = ex.conn;
  if (conn.dead) return;
  const socket = conn.socket;
  const head = ex.outHead;
  let ok: boolean;
  if (ex.out === OUT_RAW) {
    if (head !== undefined) {
      // Head and body in one write (and one packet), the usual case for a small answer.
      ex.outHead = undefined;
      const buffer = Buffer.allocUnsafe(head.length + chunk.length);
      buffer.write(head, 0, 'latin1');
      chunk.copy(buffer, head.length);
      ok = socket.write(buffer);
    } else ok = socket.write(chunk);
  } else if (ex.out === OUT_CHUNKED) {
    socket.cork();
    socket.write(head === undefined ? `${chunk.length.toString(16)}\r\n` : `${head}${chunk.length.toString(16)}\r\n`, 'latin1');
    ex.outHead = undefined;
    socket.write(chunk);
    ok = socket.write('\r\n', 'latin1');
    socket.uncork();
  } else return;
  if (!ok) stopReading(up.socket, up.consumed);
}

function onResponseEnd(this: OwnedParser): void {
  const up = this.up as UpConn;
  const ex = up.ex;
  if (ex === undefined) return;
  if (ex.informational) {
    ex.informational = false;
    return;
  }
  if (ex.finished) return;
  const conn = ex.conn;
  if (!conn.dead) {
    const head = ex.outHead;
    ex.outHead = undefined;
    if (ex.out === OUT_CHUNKED) conn.socket.write(head === undefined ? '0\r\n\r\n' : `${head}0\r\n\r\n`, 'latin1');
    else if (head !== undefined) conn.socket.write(head, 'latin1');
  }
  ex.responseDone = true;
  ex.up = undefined;
  // A connection whose request body was not all sent cannot carry another request.
  if (up.keepAlive && ex.requestDone && !up.dead) toPool(up);
  else {
    up.ex = undefined;
    up.dead = true;
    up.socket.destroy();
  }
  if (ex.requestDone) finish(ex);
  else {
    // The worker answered before the whole body came: the rest is read and dropped.
    ex.local = true;
    resumeConn(conn, PAUSE_UPSTREAM_FULL | PAUSE_CONNECTING);
  }
}

// ---------------------------------------------------------------------------------------------
// Timeouts (one sweep per connectionsCheckingIntervalMs, nothing per request)

function sweep(state: LeanState): void {
  const now = Date.now();
  for (const conn of state.conns) {
    if (conn.broken) continue;
    if (conn.inMessage) {
      const limit = conn.headDone ? state.requestTimeoutMs : state.headersTimeoutMs;
      if (limit > 0 && now - conn.msgStart >= limit) failConn(conn, 408, 'Request Timeout');
    } else if (conn.current === undefined && state.keepAliveTimeoutMs > 0 && now - conn.idleSince >= state.keepAliveTimeoutMs) {
      conn.broken = true;
      conn.socket.destroy();
    }
  }
  for (const list of state.pools.values()) {
    // Oldest first: stop at the first one still young enough.
    while (list.length > 0) {
      const up = list[0] as UpConn;
      if (now - up.idleSince < up.idleLimitMs) break;
      list.shift();
      up.dead = true;
      up.socket.destroy();
    }
  }
}

// ---------------------------------------------------------------------------------------------

export function createLeanProxy(options: ProxyOptions): ProxyServer {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
  let headersTimeoutMs = options.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs;
  if (requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) headersTimeoutMs = requestTimeoutMs;
  const state: LeanState = {
    route: options.route,
    upgradeAgent: new http.Agent({ keepAlive: false }),
    onRelease: options.onRelease,
    onError: options.onError ?? ((error) => console.error('[handover proxy]', error)),
    connectTimeoutMs: options.upstreamConnectTimeoutMs ?? DEFAULTS.upstreamConnectTimeoutMs,
    trustForwarded: options.trustForwardedHeaders ?? false,
    closing: false,
    tunnels: new Set(),
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? DEFAULTS.keepAliveTimeoutMs,
    maxHeaderSize: options.maxHeaderSize ?? DEFAULTS.maxHeaderSize,
    upstreamKeepAliveMs: options.upstreamKeepAliveMs ?? DEFAULTS.upstreamKeepAliveMs,
    // An explicit upstreamKeepAliveMs caps the hinted limit too.
    upstreamKeepAliveHintedMaxMs: options.upstreamKeepAliveMs ?? DEFAULTS.upstreamKeepAliveHintedMaxMs,
    active: 0,
    idle: undefined,
    conns: new Set(),
    pools: new Map(),
  };

  // An http.Server for the interface (listen, 'connection', 'listening'…), with node:http's own
  // connection handling replaced by this engine's: it never emits 'request'.
  const server = http.createServer();
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => onConnection(state, socket));
  const interval = setInterval(sweep, options.connectionsCheckingIntervalMs ?? DEFAULTS.connectionsCheckingIntervalMs, state);
  interval.unref();

  let closed: Promise<void> | undefined;
  return {
    server,
    listen(port: number, host = '127.0.0.1', fd?: number): Promise<number> {
      return listenServer(server, port, host, fd);
    },
    close(graceMs = 10_000): Promise<void> {
      if (closed !== undefined) return closed;
      state.closing = true;
      const serverClosed = new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
      });
      // Idle keep-alive connections go at once; busy ones end after their answer.
      for (const conn of state.conns) {
        if (conn.current === undefined && conn.parsing === undefined) {
          conn.broken = true;
          conn.socket.destroy();
        }
      }
      closed = (async () => {
        if (state.active > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, graceMs);
            state.idle = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          state.idle = undefined;
        }
        clearInterval(interval);
        for (const conn of [...state.conns]) {
          // Ones ending after a Connection: close answer are left to flush it.
          if (!conn.socket.writableEnded) conn.socket.destroy();
        }
        for (const tunnel of [...state.tunnels]) tunnel.destroy();
        for (const list of state.pools.values()) for (const up of list.splice(0)) up.socket.destroy();
        state.upgradeAgent.destroy();
        await serverClosed;
      })();
      return closed;
    },
  };
}
