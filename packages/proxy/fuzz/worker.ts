/**
 * The echo worker: a raw-TCP HTTP/1.1 server with its own strict parser (wire.ts). It records
 * exactly what reached it (method, target, headers, trailers, body bytes, which worker connection,
 * which request came before on that connection) and answers each request with a body naming the
 * request's X-Fuzz-Id and a digest of what it received, so the client can tell "my response
 * answers my request". How it answers is chosen per request by the client (seeded) through the
 * X-Fuzz-Do header: see `Directives`.
 */
import net, { type AddressInfo } from 'node:net';
import { fnv } from './prng';
import { type Header, headerValues, type Message, WireParser } from './wire';

export interface WorkerRecord {
  conn: number;
  id: string | undefined;
  /** The id of the message before this one on the same worker connection. */
  prev: string | undefined;
  method: string;
  target: string;
  headers: Header[];
  trailers: Header[];
  body: Buffer;
  complete: boolean;
  /** Answered before the body ended, after this many body bytes. */
  earlyAt: number | undefined;
  /** Answered 101 and switched to echoing raw bytes. */
  upgraded: boolean;
}

export interface WorkerError {
  conn: number;
  prev: string | undefined;
  reason: string;
}

export interface Directives {
  framing: 'cl' | 'chunked' | 'eof';
  trailers: boolean;
  close: boolean;
  /** Keep-Alive: timeout=N, and the worker closes the connection after N s idle. */
  keepAlive: number;
  /** Answer (401) after this many body bytes, before the body ends. */
  early: number | undefined;
  info: boolean;
  slow: boolean;
  hop: boolean;
  connLength: boolean;
  status: number;
  pad: number;
  many: boolean;
  session: boolean;
}

export function parseDirectives(value: string | undefined): Directives {
  const d: Directives = {
    framing: 'cl', trailers: false, close: false, keepAlive: 0, early: undefined, info: false, slow: false,
    hop: false, connLength: false, status: 200, pad: 0, many: false, session: false,
  };
  for (const token of (value ?? '').split(/[ ,]+/)) {
    let m: RegExpExecArray | null;
    if (token === 'chunked' || token === 'eof' || token === 'cl') d.framing = token;
    else if (token === 'trailers') d.trailers = true;
    else if (token === 'close') d.close = true;
    else if ((m = /^ka(\d)$/.exec(token))) d.keepAlive = Number(m[1]);
    else if ((m = /^early(\d+)$/.exec(token))) d.early = Number(m[1]);
    else if (token === 'info') d.info = true;
    else if (token === 'slow') d.slow = true;
    else if (token === 'hop') d.hop = true;
    else if (token === 'connlen') d.connLength = true;
    else if ((m = /^s(\d{3})$/.exec(token))) d.status = Number(m[1]);
    else if ((m = /^pad(\d+)$/.exec(token))) d.pad = Number(m[1]);
    else if (token === 'many') d.many = true;
    else if (token === 'session') d.session = true;
  }
  return d;
}

/** Header names a proxy must not pass on (hop-by-hop, ours to strip), lower-case. */
export const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** A response's end-to-end headers as the client must see them ("name:value", sorted). */
export function clientView(headers: readonly Header[]): string[] {
  return headers
    .filter(([n]) => {
      const lower = n.toLowerCase();
      return !HOP.has(lower) && lower !== 'content-length' && !lower.startsWith('x-handover-');
    })
    .map(([n, v]) => `${n.toLowerCase()}:${v}`)
    .sort();
}

export function headerDigest(headers: readonly Header[]): string {
  return fnv(Buffer.from(clientView(headers).join('\n'), 'latin1'));
}

/** The response body the worker sends and the client expects (both compute it). */
export function echoBody(id: string, method: string, target: string, received: Buffer, digest: string, pad: number): Buffer {
  const line = `${id} ${method} ${target} n=${received.length} h=${fnv(received)} hd=${digest}\n`;
  const fill = Buffer.alloc(pad);
  for (let i = 0; i < pad; i++) fill[i] = 0x61 + (i % 26);
  return Buffer.concat([Buffer.from(line, 'latin1'), fill]);
}

export function responseHeaders(id: string, d: Directives, status: number): Header[] {
  const headers: Header[] = [['X-Fuzz-Id', id], ['Content-Type', 'text/plain']];
  if (d.many) for (let i = 0; i < 40; i++) headers.push([`X-Fuzz-R${i}`, `v${i}-${id}`]);
  if (d.session) headers.push(['X-Handover-Session', `s-${id}; ttl=0`]);
  if (status === 401) headers.push(['WWW-Authenticate', 'Basic realm="fuzz"']);
  return headers;
}

export class EchoWorker {
  readonly records: WorkerRecord[] = [];
  readonly errors: WorkerError[] = [];
  private server = net.createServer((socket) => this.accept(socket));
  private sockets = new Set<net.Socket>();
  private nextConn = 0;
  port = 0;

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    const conn = ++this.nextConn;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let prev: string | undefined;
    let writing: Promise<void> = Promise.resolve();
    let idle: NodeJS.Timeout | undefined;
    let closing = false;
    const records = new Map<Message, WorkerRecord>();
    const write = (bytes: Buffer, slow: boolean, end: boolean) => {
      writing = writing.then(() => (slow ? slowWrite(socket, bytes) : void socket.write(bytes))).then(() => {
        if (end) socket.end();
      });
    };
    const recordOf = (msg: Message): WorkerRecord => {
      let rec = records.get(msg);
      if (rec === undefined) {
        rec = {
          conn, id: headerValues(msg.headers, 'x-fuzz-id')[0], prev, method: msg.method, target: msg.target,
          headers: msg.headers, trailers: msg.trailers, body: Buffer.alloc(0), complete: false, earlyAt: undefined, upgraded: false,
        };
        records.set(msg, rec);
        this.records.push(rec);
        prev = rec.id ?? '(no id)';
      }
      return rec;
    };
    const answer = (msg: Message, early: boolean) => {
      const rec = recordOf(msg);
      const d = parseDirectives(headerValues(msg.headers, 'x-fuzz-do')[0]);
      const received = Buffer.concat(msg.bodyParts);
      if (early) rec.earlyAt = received.length;
      const status = early ? 401 : d.status;
      const id = rec.id ?? '(no id)';
      const headers = responseHeaders(id, d, status);
      const body = echoBody(id, msg.method, msg.target, received, headerDigest(headers), d.pad);
      const bodyless = msg.method === 'HEAD' || status === 204 || status === 304;
      let head = `HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Fuzz'}\r\n`;
      for (const [n, v] of headers) head += `${n}: ${v}\r\n`;
      if (d.hop) head += 'Connection: x-fuzz-hop\r\nX-Fuzz-Hop: must-not-pass\r\nProxy-Connection: keep-alive\r\n';
      const framing = status === 204 || status === 304 ? 'none' : d.framing;
      if (framing === 'cl') head += `Content-Length: ${body.length}\r\n`;
      if (framing === 'chunked') head += 'Transfer-Encoding: chunked\r\n';
      if (d.connLength && framing === 'cl') head += 'Connection: content-length\r\n';
      if (d.trailers && framing === 'chunked') head += 'Trailer: X-Fuzz-Trailer-A\r\n';
      const closeAfter = d.close || framing === 'eof';
      if (closeAfter) head += 'Connection: close\r\n';
      if (d.keepAlive > 0 && !closeAfter) head += `Keep-Alive: timeout=${d.keepAlive}\r\n`;
      let out = Buffer.from(`${head}\r\n`, 'latin1');
      if (!bodyless) {
        if (framing === 'chunked') {
          const parts: Buffer[] = [out];
          for (let at = 0; at < body.length; at += 700) {
            const piece = body.subarray(at, at + 700);
            parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
          }
          const trailer = d.trailers ? `X-Fuzz-Trailer-A: ${id}\r\nX-Fuzz-Trailer-B: leak\r\n` : '';
          parts.push(Buffer.from(`0\r\n${trailer}\r\n`, 'latin1'));
          out = Buffer.concat(parts);
        } else if (framing !== 'none') out = Buffer.concat([out, body]);
      }
      if (d.info) write(Buffer.from('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n'), d.slow, false);
      write(out, d.slow, closeAfter);
      if (closeAfter) closing = true;
      else if (d.keepAlive > 0) {
        clearTimeout(idle);
        idle = setTimeout(() => socket.destroy(), d.keepAlive * 1000);
      }
    };
    const parser = new WireParser('request', {
      onHead: (msg) => {
        clearTimeout(idle);
        const rec = recordOf(msg);
        if (closing) return;
        const upgrade = headerValues(msg.headers, 'upgrade')[0];
        const connection = headerValues(msg.headers, 'connection').join(',').toLowerCase();
        if (upgrade !== undefined && /\bupgrade\b/.test(connection)) {
          // As a server that speaks the protocol would: switch, then echo raw bytes.
          rec.upgraded = true;
          rec.complete = true;
          closing = true;
          socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\nX-Fuzz-Id: ${rec.id}\r\n\r\n`);
          const rest = parser.stop();
          if (rest.length > 0) socket.write(rest);
          socket.on('data', (chunk: Buffer) => socket.write(chunk));
          return;
        }
        const d = parseDirectives(headerValues(msg.headers, 'x-fuzz-do')[0]);
        if (headerValues(msg.headers, 'expect').some((v) => v.toLowerCase() === '100-continue') && d.early === undefined) {
          write(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'), false, false);
        }
        if (d.early === 0 && msg.framing !== 'none') answer(msg, true);
      },
      onBody: (msg) => {
        if (closing) return;
        const rec = recordOf(msg);
        const d = parseDirectives(headerValues(msg.headers, 'x-fuzz-do')[0]);
        if (d.early !== undefined && rec.earlyAt === undefined && msg.bodyLength >= d.early) answer(msg, true);
      },
      onMessage: (msg) => {
        const rec = recordOf(msg);
        rec.complete = true;
        rec.body = Buffer.concat(msg.bodyParts);
        if (rec.earlyAt === undefined && !closing) answer(msg, false);
      },
      onError: (reason) => {
        this.errors.push({ conn, prev, reason });
        socket.destroy();
      },
    });
    socket.on('data', (chunk: Buffer) => {
      if (!parser.failed && !closing) parser.feed(chunk);
    });
    socket.on('close', () => {
      clearTimeout(idle);
      this.sockets.delete(socket);
      const msg = parser.current;
      if (msg !== undefined) recordOf(msg).body = Buffer.concat(msg.bodyParts);
    });
    socket.on('error', () => {});
  }
}

/** Deliberate pacing (a slow worker): small pieces, each on a later turn of the event loop. */
async function slowWrite(socket: net.Socket, bytes: Buffer): Promise<void> {
  let at = 0;
  let n = 0;
  while (at < bytes.length && !socket.destroyed) {
    const size = 1 + ((at * 7 + bytes.length) % 97);
    socket.write(bytes.subarray(at, at + size));
    at += size;
    await new Promise((resolve) => (++n % 8 === 0 ? setTimeout(resolve, 1) : setImmediate(resolve)));
  }
}
