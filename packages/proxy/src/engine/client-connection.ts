/**
 * A client connection: its socket, its request parser (llhttp, strict; callbacks in
 * request-parser.ts) and the exchanges on it (the one being answered, the one being parsed,
 * pipelined ones); accepting under the connection limits, backpressure, and closing. Handlers are
 * module-level functions bound once per connection, never per request; each one is an entry from
 * I/O and runs inside the fault guard.
 */
import type { Socket } from 'node:net';
import { abort, type Exchange } from './exchange';
import { type EntryPoint, faultProbe, recordFault } from './guard';
import { textHead } from './heads';
import { HTTPParser, PARSER_RESOURCE, REQUEST, STRICT } from './llhttp';
import { afterClientParse, listenToRequests } from './request-parser';
import { closeParser, consume, handOver, listenTo, type OwnedParser, type SocketHandlers, startReading, stopListening, stopReading } from './sockets';
import type { EngineState } from './state';

/** Client socket pause reasons (a bit mask; the socket reads again when none is left). */
export const PAUSE_UPSTREAM_FULL = 1; // the worker connection does not take the body fast enough
export const PAUSE_CONNECTING = 2; // the body is held back until the worker connection is up
export const PAUSE_PIPELINED = 4; // a pipelined request waits for the one before it
export const PAUSE_FOR_GOOD = 8; // the bytes after this request are not HTTP/1.1 (an upgrade not taken)

const kConn = Symbol('handover.conn');
const CLIENT_SOCKET_HANDLERS: SocketHandlers = [
  ['data', onClientData],
  ['end', onClientEnd],
  ['close', onClientClose],
  ['drain', onClientDrain],
];
interface ConnSocket extends Socket {
  [kConn]?: ClientConn;
}

export class ClientConn {
  readonly parser: OwnedParser;
  /** The oldest unfinished exchange (the one being answered). */
  current: Exchange | undefined = undefined;
  /** The exchange whose request is being parsed (head done, body under way). */
  parsing: Exchange | undefined = undefined;
  /** Pipelined requests behind `current` (rare). */
  queue: Exchange[] | undefined = undefined;
  /** A WebSocket handshake was parsed in the read being handled: the bytes after it are kept for the tunnel. */
  handshake: Exchange | undefined = undefined;
  /** Partial head from kOnHeaders (heads with more than 32 header lines), or trailers. */
  headers: string[] | undefined = undefined;
  url = '';
  /** A message is being received (its head or body); since msgStart. */
  inMessage = true;
  headDone = false;
  msgStart: number;
  /** Last bytes from the client (body idle timeout). */
  lastReadAt: number;
  idleSince: number;
  /** Since when the connection is closing: our FIN sent, the client's bytes dropped (0: not closing). */
  lingerSince = 0;
  /** Since when a write to the client has waited for 'drain' (0: none waits). */
  stalledSince = 0;
  paused = 0;
  /** The client sent FIN. */
  ended = false;
  /** No more requests are read (parse error, timeout, upgrade, closing). */
  broken = false;
  /** The last request this connection serves was parsed (Connection: close, HTTP/1.0, an upgrade, a refused one). */
  lastRequest = false;
  /** The proxy's own answer to write once the requests before it are answered (a refused pipelined request). */
  finalAnswer: string | undefined = undefined;
  dead = false;
  remote: string | undefined = undefined;
  /** The parser reads the socket's handle directly. */
  readonly consumed: boolean;
  constructor(
    readonly state: EngineState,
    readonly socket: ConnSocket,
    /** Counted in state.perClient under this address. */
    readonly countedAs: string | undefined,
  ) {
    this.msgStart = this.idleSince = this.lastReadAt = Date.now();
    const parser = new HTTPParser() as OwnedParser;
    parser.initialize(REQUEST, PARSER_RESOURCE, state.maxHeaderSize, STRICT);
    listenToRequests(parser);
    parser.conn = this;
    parser.up = undefined;
    this.parser = parser;
    this.consumed = consume(parser, socket);
  }

  /** Writes to the client, noting when it stops taking bytes (send timeout). */
  write(data: string | Buffer): boolean {
    const ok = typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
    if (!ok && this.stalledSince === 0) this.stalledSince = Date.now();
    return ok;
  }

  /** Hands the socket over (a WebSocket tunnel): the engine lets go of it, paused, reading into its stream. */
  detach(): void {
    const socket = this.socket;
    const state = this.state;
    this.broken = true;
    this.dead = true;
    state.conns.delete(this);
    // The no-op 'error' handler stays: the tunnel adds its own beside it.
    stopListening(socket, CLIENT_SOCKET_HANDLERS);
    handOver(socket, this.parser, this.consumed);
    // Still counted per client address until the tunnel's socket closes.
    const countedAs = this.countedAs;
    if (countedAs !== undefined) socket.once('close', () => uncount(state, countedAs));
  }

  /** A bug met on this connection: it ends (502 when nothing was answered yet); everyone else goes on. */
  fault(entry: EntryPoint, error: unknown): void {
    recordFault(this.state, entry, error);
    try {
      failConn(this, 502, 'Bad Gateway');
    } catch {
      this.socket.destroy();
    }
  }
}

/** A new client connection, unless a connection limit says no (503, closed). */
export function acceptConnection(state: EngineState, socket: Socket): void {
  try {
    if (faultProbe !== undefined) faultProbe('client.connection');
    if (state.closing) {
      socket.destroy();
      return;
    }
    let countedAs: string | undefined;
    if (state.maxConnectionsPerClient > 0) {
      countedAs = socket.remoteAddress ?? '';
      const open = state.perClient.get(countedAs) ?? 0;
      if (open >= state.maxConnectionsPerClient) return refuseConnection(state, socket);
      state.perClient.set(countedAs, open + 1);
    }
    if (state.maxConnections > 0 && state.conns.size >= state.maxConnections) {
      if (countedAs !== undefined) uncount(state, countedAs);
      return refuseConnection(state, socket);
    }
    const conn = new ClientConn(state, socket, countedAs);
    (socket as ConnSocket)[kConn] = conn;
    state.conns.add(conn);
    socket.on('error', onSocketError);
    listenTo(socket, CLIENT_SOCKET_HANDLERS);
  } catch (error) {
    recordFault(state, 'client.connection', error);
    socket.destroy();
  }
}

function refuseConnection(state: EngineState, socket: Socket): void {
  state.counters.refusedConnections++;
  socket.on('error', onSocketError);
  socket.end(textHead(503, 'Service Unavailable', 'Too many connections; retry shortly.\n', true));
  socket.setTimeout(1000, () => socket.destroy());
}

function uncount(state: EngineState, address: string): void {
  const open = (state.perClient.get(address) ?? 1) - 1;
  if (open <= 0) state.perClient.delete(address);
  else state.perClient.set(address, open);
}

function onSocketError(this: Socket): void {
  // 'close' follows and does the cleanup.
}

/** Bytes from a client socket the parser does not consume (not a TCP handle): parse them here. */
function onClientData(this: ConnSocket, chunk: Buffer): void {
  const conn = this[kConn] as ClientConn;
  if (conn.broken) return;
  conn.lastReadAt = Date.now();
  afterClientParse(conn, conn.parser.execute(chunk), chunk);
}

function onClientDrain(this: ConnSocket): void {
  const conn = this[kConn] as ClientConn;
  conn.stalledSince = 0;
  try {
    if (faultProbe !== undefined) faultProbe('client.drain');
    const up = conn.current?.up;
    if (up !== undefined && !up.dead) startReading(up.socket, up.consumed);
  } catch (error) {
    conn.fault('client.drain', error);
  }
}

export function pauseConn(conn: ClientConn, reason: number): void {
  if (conn.paused === 0) stopReading(conn.socket, conn.consumed);
  conn.paused |= reason;
}

export function resumeConn(conn: ClientConn, reason: number): void {
  if ((conn.paused & reason) === 0) return;
  conn.paused &= ~reason;
  if (conn.paused === 0 && !conn.dead && !conn.broken) startReading(conn.socket, conn.consumed);
}

/** Ends the client connection once what was written is flushed. */
export function endConn(conn: ClientConn): void {
  conn.broken = true;
  if (conn.queue !== undefined) for (const queued of conn.queue.splice(0)) abort(queued);
  if (!conn.dead) linger(conn);
}

/**
 * Lingering close (nginx's lingering_close): FIN once the answer is written, and what the client
 * still sends is read and dropped until its own FIN or LINGER_MS. Closing with unread bytes
 * would make the kernel send a reset, which can destroy the answer before the client reads it
 * (the fuzzer saw 431s lost behind a large body).
 */
function linger(conn: ClientConn): void {
  if (conn.lingerSince !== 0) return;
  conn.lingerSince = Date.now();
  conn.paused = 0;
  startReading(conn.socket, conn.consumed);
  conn.socket.end();
}

function onClientEnd(this: ConnSocket): void {
  // As node:http (httpAllowHalfOpen false): a client that ends its side abandons what is under
  // way; the connection is closed once written data is flushed.
  const conn = this[kConn] as ClientConn;
  try {
    if (faultProbe !== undefined) faultProbe('client.eof');
    conn.ended = true;
    if (conn.current !== undefined) abort(conn.current);
    if (conn.parsing !== undefined) abort(conn.parsing);
    endConn(conn);
  } catch (error) {
    conn.fault('client.eof', error);
  }
}

function onClientClose(this: ConnSocket): void {
  const conn = this[kConn] as ClientConn;
  if (conn.dead) return;
  conn.dead = true;
  const state = conn.state;
  state.conns.delete(conn);
  if (conn.countedAs !== undefined) uncount(state, conn.countedAs);
  try {
    if (faultProbe !== undefined) faultProbe('client.close');
    abortAll(conn);
  } catch (error) {
    recordFault(state, 'client.close', error);
  }
  if (conn.consumed) conn.parser.unconsume();
  setImmediate(closeParser, conn.parser);
}

function abortAll(conn: ClientConn): void {
  if (conn.current !== undefined) abort(conn.current);
  if (conn.parsing !== undefined) abort(conn.parsing);
  if (conn.queue !== undefined) for (const queued of conn.queue.splice(0)) abort(queued);
}

/** Ends the connection with an answer of the proxy's own, when nothing was answered yet. */
export function failConn(conn: ClientConn, status: number, reason: string): void {
  conn.broken = true;
  const socket = conn.socket;
  const current = conn.current;
  const midResponse = current !== undefined && current.responded;
  abortAll(conn);
  if (midResponse || !socket.writable || conn.dead) {
    socket.destroy();
    return;
  }
  conn.write(textHead(status, reason, `${reason}\n`, false));
  linger(conn);
}

