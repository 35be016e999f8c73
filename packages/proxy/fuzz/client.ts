/**
 * Plays one stream against the proxy on a real socket: writes it in its fragments (waiting where
 * the stream says: for an early answer, a 100 Continue, the previous response), maybe cuts it
 * off, and parses everything that comes back with the strict parser.
 */
import net from 'node:net';
import type { GenStream } from './generate';
import { bodyOf, type Header, headerValues, type Message, WireParser } from './wire';

export interface ClientResponse {
  status: number;
  version: string;
  headers: Header[];
  trailers: Header[];
  body: Buffer;
  framing: Message['framing'];
}

export interface StreamResult {
  responses: ClientResponse[];
  /** Request indexes that got a 1xx before their final answer. */
  informational: Set<number>;
  written: number;
  parseError: string | undefined;
  /** The proxy closed (or reset) the connection. */
  closed: boolean;
  /** A TCP reset: what the proxy wrote last may be lost (closing with unread bytes resets). */
  reset: boolean;
  timedOut: boolean;
  /** A wait (early answer, 100 Continue, previous response) gave up: the client was slow. */
  waitExpired: boolean;
  /** Request index answered with 101 (the connection became a tunnel). */
  upgradedAt: number | undefined;
  /** Through a WebSocket tunnel: what the client sent and what came back. */
  tunnel: { sent: string; echoed: string } | undefined;
  ms: number;
  /** Everything the proxy sent back (the first MiB), for --only. */
  received: Buffer[];
}

/** How long the client waits for answers after its last write (the proxy's own timeouts are shorter). */
const ANSWER_DEADLINE_MS = 8000;
/** How long a write waits for an early answer / 100 Continue before writing anyway. */
const WAIT_DEADLINE_MS = 3000;

export function expectedAnswers(stream: GenStream): number {
  let n = 0;
  for (const r of stream.requests) {
    n++;
    if (r.kind === 'invalid' || r.closes) break;
  }
  return n;
}

export function runStream(port: number, stream: GenStream): Promise<StreamResult> {
  const began = Date.now();
  const result: StreamResult = {
    responses: [], informational: new Set(), written: 0, parseError: undefined, closed: false, reset: false, timedOut: false, waitExpired: false,
    upgradedAt: undefined, tunnel: undefined, ms: 0, received: [],
  };
  let receivedBytes = 0;
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let wake: (() => void) | undefined;
  const changed = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  /** Resolves when `done()` holds, the connection closed, or after `ms`; says which. */
  const until = (done: () => boolean, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const check = () => {
        if (done() || result.closed) {
          clearTimeout(timer);
          resolve(true);
        } else wake = check;
      };
      const timer = setTimeout(() => {
        wake = undefined;
        resolve(false);
      }, ms);
      check();
    });
  const parser = new WireParser(
    'response',
    {
      onHead: (msg) => {
        if (msg.status === 101) {
          const req = stream.requests[result.responses.length];
          result.upgradedAt = result.responses.length;
          result.responses.push({ status: 101, version: msg.version, headers: msg.headers, trailers: [], body: Buffer.alloc(0), framing: 'none' });
          if (req?.websocket !== true) {
            parser.stop();
            socket.destroy();
            return;
          }
          // A tunnel to the echo worker: what goes in must come back, byte for byte.
          const tunnel = { sent: `ws-ping ${req.id} \x00\xff\r\n\r\n`, echoed: parser.stop().toString('latin1') };
          result.tunnel = tunnel;
          socket.write(tunnel.sent, 'latin1');
        }
        // A head is in: a 'started' wait may go on (once the parser holds it, after this call).
        setImmediate(changed);
      },
      onMessage: (msg) => {
        if (msg.status === 101) return;
        if (msg.status < 200) result.informational.add(result.responses.length);
        else {
          result.responses.push({ status: msg.status, version: msg.version, headers: msg.headers, trailers: msg.trailers, body: bodyOf(msg), framing: msg.framing });
        }
        changed();
      },
      onError: (reason) => {
        result.parseError = reason;
        socket.destroy();
      },
    },
    // A refusal by the proxy (no X-Fuzz-Id, 4xx/5xx) may stand for a pipelined request that came
    // before the bad bytes: read its body as framed, whatever that request's method.
    (msg) => stream.requests[result.responses.length]?.method === 'HEAD' && (msg.status < 400 || headerValues(msg.headers, 'x-fuzz-id').length > 0),
  );
  socket.on('data', (chunk: Buffer) => {
    if ((receivedBytes += chunk.length) < 1 << 20) result.received.push(chunk);
    if (result.tunnel !== undefined) {
      result.tunnel.echoed += chunk.toString('latin1');
      changed();
    } else parser.feed(chunk);
  });
  socket.on('end', () => {
    // A refusal of a HEAD request may or may not carry its body; closed after its head, it is complete.
    const msg = parser.current;
    const head = stream.requests[result.responses.length]?.method === 'HEAD';
    if (msg !== undefined && head && msg.status >= 400 && msg.bodyLength === 0 && headerValues(msg.headers, 'x-fuzz-id').length === 0) {
      result.responses.push({ status: msg.status, version: msg.version, headers: msg.headers, trailers: [], body: Buffer.alloc(0), framing: 'none' });
      parser.stop();
      changed();
      return;
    }
    parser.end();
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNRESET' || error.code === 'EPIPE') result.reset = true;
  });
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      result.closed = true;
      changed();
      resolve();
    }),
  );

  const play = async () => {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }).catch(() => undefined);
    const bytes = stream.bytes;
    const marks = new Set<number>([0, bytes.length, ...stream.splits, ...stream.waits.map((w) => w.at)]);
    if (stream.cut !== undefined) marks.add(stream.cut.at);
    const points = [...marks].filter((p) => p >= 0 && p <= bytes.length).sort((a, b) => a - b);
    for (let i = 0; i < points.length - 1 && !result.closed; i++) {
      const at = points[i] as number;
      if (stream.cut !== undefined && at === stream.cut.at) break;
      for (const w of stream.waits) {
        // After one wait gave up the proxy is not answering; waiting again would only add time.
        if (w.at !== at || result.waitExpired) continue;
        const answered = () =>
          result.responses.length > w.index ||
          (w.what === 'continue' && result.informational.has(w.index)) ||
          (w.what === 'started' && result.responses.length === w.index && parser.current !== undefined);
        if (!(await until(answered, WAIT_DEADLINE_MS))) result.waitExpired = true;
      }
      if (result.closed) break;
      const next = points[i + 1] as number;
      socket.write(bytes.subarray(at, next));
      result.written = next;
      // Deliberate pacing, so the proxy sees the fragments as separate reads more often.
      await new Promise((resolve) => (stream.paced ? setTimeout(resolve, 1) : setImmediate(resolve)));
    }
    if (stream.cut !== undefined && result.written >= stream.cut.at && !result.closed) {
      if (stream.cut.how === 'destroy') socket.destroy();
      else socket.end();
    }
    const wanted = expectedAnswers(stream);
    const done = await until(() => stream.cut === undefined && result.responses.length >= wanted, ANSWER_DEADLINE_MS);
    if (!done) result.timedOut = true;
    const tunnel = result.tunnel;
    if (tunnel !== undefined) await until(() => tunnel.echoed.length >= tunnel.sent.length, WAIT_DEADLINE_MS);
    // A connection the proxy should close (HTTP/1.0, Connection: close, a refusal) gets a chance to; others go now.
    const closer = stream.requests.findIndex((r) => r.closes && !r.websocket && r.kind !== 'invalid');
    if (!result.closed && closer !== -1 && result.responses.length > closer) await until(() => false, 300);
    socket.destroy();
    await closed;
  };
  return play().then(() => {
    result.ms = Date.now() - began;
    return result;
  });
}
