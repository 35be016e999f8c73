import http, { type IncomingHttpHeaders, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { SessionTable } from '@handover/session-table';
import { createProxy, type ProxyOptions, type ProxyServer, type Route, type Upstream } from '../src/index';
import { type AsyncResource, asyncResource } from '../../../test-support/resources';
import { Lease } from '@handover/process-table';

export { type AsyncResource, asyncResource, disposeAll, disposer } from '../../../test-support/resources';


export interface TestUpstream {
  upstream: Upstream;
  server: http.Server;
  /** TCP connections the worker accepted. */
  connections: number;
  /** Requests the worker saw (raw headers kept). */
  seen: IncomingMessage[];
  close(): Promise<void>;
}

/**
 * A worker on a port of its own: `await using w = await startUpstream(…)` closes it (and every
 * connection to it) when the test ends.
 */
export async function startUpstream(id: string, handler: RequestListener): Promise<AsyncResource<TestUpstream>> {
  const server = http.createServer();
  const result: TestUpstream = {
    upstream: undefined as unknown as Upstream,
    server,
    connections: 0,
    seen: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        if (!server.listening) return resolve();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => result.connections++);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    result.seen.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  result.upstream = { id, host: '127.0.0.1', port, routable: true, draining: false, lease: new Lease() };
  return asyncResource(result, () => result.close());
}

/** A port nothing listens on (bound then released). */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function deadUpstream(id: string, port: number): Upstream {
  return { id, host: '127.0.0.1', port, routable: true, draining: false, lease: new Lease() };
}

export function makeRoute(target: Upstream | undefined, extra: Partial<Route> = {}): Route {
  return {
    sessionCookie: 'demo.sid',
    idleTimeoutMs: 60_000,
    sessions: new SessionTable<Upstream>(),
    target,
    ...extra,
  };
}

export interface TestProxy {
  proxy: ProxyServer;
  port: number;
  released: Upstream[];
  /** What the proxy reported through onError. */
  errors: unknown[];
}

/**
 * A proxy on a port of its own: `await using p = await startProxy(…)` closes it when the test
 * ends, and then fails the test if it reported an error through onError (a crash path).
 */
export async function startProxy(route: Route, options: Partial<ProxyOptions> = {}): Promise<AsyncResource<TestProxy>> {
  const released: Upstream[] = [];
  const errors: unknown[] = [];
  const proxy = createProxy({ route, onRelease: (up) => released.push(up), onError: (e) => errors.push(e), ...options });
  const port = await proxy.listen(0);
  return asyncResource({ proxy, port, released, errors }, async () => {
    await proxy.close(0);
    if (errors.length > 0) throw new Error(`proxy reported errors: ${errors.map(String).join('; ')}`);
  });
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** One request on a fresh connection (no pooling), body read fully. */
export function get(
  port: number,
  path = '/',
  headers: http.OutgoingHttpHeaders = {},
  method = 'GET',
  body?: string | Buffer,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Polls until `check` holds or the deadline passes (no fixed sleeps). */
export async function waitFor(check: () => boolean, what = 'condition', deadlineMs = 3000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Writes raw bytes on a fresh socket and collects everything until the proxy closes it. */
export function rawExchange(port: number, bytes: string | Buffer, endAfterWrite = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      if (endAfterWrite) socket.end(bytes);
      else socket.write(bytes);
    });
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (out += chunk));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

/** Echo-ish handler that answers the worker id. */
export function answerWith(id: string, extra?: (req: IncomingMessage, res: ServerResponse) => void): RequestListener {
  return (req, res) => {
    extra?.(req, res);
    req.resume();
    req.on('end', () => {
      if (!res.headersSent) res.setHeader('Content-Type', 'text/plain');
      res.end(id);
    });
  };
}

/** Opens a socket, writes, and resolves with everything read once `done(text)` holds. */
export function readUntil(port: number, write: (socket: net.Socket) => void, done: (text: string) => boolean): Promise<{ text: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => write(socket));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (done(text)) resolve({ text, socket });
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ text, socket }));
  });
}
