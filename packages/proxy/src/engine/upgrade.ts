/**
 * A WebSocket upgrade head was parsed: the client connection leaves the engine and is handed,
 * with the bytes after the head, to the tunnel code (websocket.ts). CONNECT is refused here.
 */
import type { IncomingMessage } from 'node:http';
import { textHead } from '../state';
import { handleUpgrade } from '../websocket';
import { type ClientConn, closeParser } from './client-connection';
import { abort } from './exchange';
import { startReading } from './sockets';
import type { Exchange } from './exchange';

export function startUpgrade(conn: ClientConn, chunk: Buffer, parsed: number): void {
  const ex = conn.upgrade as Exchange;
  const socket = conn.socket;
  conn.detach();
  // From here the socket's own stream gets the bytes again, held until the tunnel pipes them.
  socket.pause();
  if (conn.consumed) {
    conn.parser.unconsume();
    startReading(socket, true);
  }
  // Maybe inside the parser's own callback: close it once the stack has unwound.
  setImmediate(closeParser, conn.parser);
  if (conn.current !== undefined) {
    // An upgrade pipelined behind a request still being answered: not worth untangling.
    abort(conn.current);
    socket.destroy();
    return;
  }
  if (ex.method === 'CONNECT') {
    socket.end(textHead(405, 'Method Not Allowed', 'CONNECT is not supported\n', false));
    socket.setTimeout(1000, () => socket.destroy());
    return;
  }
  // WebSocket clients send origin form; anything else ("http://h/ws", "*") is not worth forwarding.
  if (ex.url.charCodeAt(0) !== 47 /* / */) {
    socket.end(textHead(400, 'Bad Request', 'Bad Request\n', false));
    socket.setTimeout(1000, () => socket.destroy());
    return;
  }
  const req = { method: ex.method, url: ex.url, rawHeaders: ex.raw, headers: {}, socket } as unknown as IncomingMessage;
  handleUpgrade(conn.state, req, socket, chunk.subarray(parsed));
}
