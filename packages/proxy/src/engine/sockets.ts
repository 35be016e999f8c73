/**
 * Raw socket plumbing shared by both sides: llhttp reading a socket's libuv handle directly
 * (no JS stream, no Buffer per read — node:http's server does the same), and backpressure at
 * that handle.
 */
import type { Socket } from 'node:net';
import type { ClientConn } from './client-connection';
import type { Parser } from './llhttp';
import type { UpConn } from './worker-connection';

/** A parser that knows the connection it serves (its callbacks get it as `this`). */
export interface OwnedParser extends Parser {
  conn: ClientConn | undefined;
  up: UpConn | undefined;
}

/** The libuv stream handle of a net.Socket (what the parser consumes). */
interface StreamHandle {
  isStreamBase?: boolean;
  reading?: boolean;
  _consumed?: boolean;
  readStart(): number;
  readStop(): number;
}

function handleOf(socket: Socket): StreamHandle | undefined {
  return (socket as unknown as { _handle?: StreamHandle | null })._handle ?? undefined;
}

/**
 * Lets the parser read the socket itself. EOF and errors still reach the socket ('end',
 * 'close'). Returns whether it could (a TCP socket always can).
 */
export function consume(parser: Parser, socket: Socket): boolean {
  const handle = handleOf(socket);
  if (handle === undefined || handle.isStreamBase !== true || handle._consumed === true) return false;
  handle._consumed = true;
  parser.consume(handle);
  return true;
}

/** Stops reading a socket (backpressure); for consumed sockets at the handle, where the data goes. */
export function stopReading(socket: Socket, consumed: boolean): void {
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

export function startReading(socket: Socket, consumed: boolean): void {
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

/**
 * The socket leaves the engine (a tunnel): its parser lets go of the handle and is closed once
 * the stack has unwound (this may run inside its callback); the socket's own stream gets the
 * bytes again, held (paused) until the tunnel pipes them.
 */
export function handOver(socket: Socket, parser: Parser, consumed: boolean): void {
  socket.pause();
  if (consumed) {
    parser.unconsume();
    startReading(socket, true);
  }
  setImmediate(closeParser, parser);
}

export function closeParser(parser: Parser): void {
  parser.close();
}

/** A connection's socket event handlers, added and removed as one list. */
export type SocketHandlers = ReadonlyArray<readonly [event: string, handler: (...args: never[]) => void]>;

export function listenTo(socket: Socket, handlers: SocketHandlers): void {
  for (const [event, handler] of handlers) socket.on(event, handler as (...args: unknown[]) => void);
}

export function stopListening(socket: Socket, handlers: SocketHandlers): void {
  for (const [event, handler] of handlers) socket.removeListener(event, handler as (...args: unknown[]) => void);
}
