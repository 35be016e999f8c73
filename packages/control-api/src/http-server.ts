/** The control API's HTTP server: loopback by default, request timeouts, CONNECT refused. */
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { bracketHost, listenServer } from '@handover/net';
import { type ControlHandlerOptions, SERVER_METHODS, createControlHandler } from './http-handler';

/** Default time a client has to send a whole request, headers and body (then 408). */
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export interface StartControlServerOptions extends ControlHandlerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** An inherited socket, already bound (by Handover's keeper), to listen on instead of binding. */
  fd?: number;
  /** Where the non-loopback warning goes. Default: stderr. */
  warn?: (line: string) => void;
  /**
   * How long a client has to send a whole request, headers and body; then 408 and the
   * connection is closed, so a client trickling a body cannot hold a connection (and tRPC's
   * body buffer) for Node's default 5 minutes. Responses, event streams included, are not
   * limited. Default 10 s.
   */
  requestTimeoutMs?: number;
}

export interface ControlServer {
  server: http.Server;
  port: number;
  /** e.g. `http://127.0.0.1:8090/` (procedures are under `${url}trpc/`). */
  url: string;
  /** Stops listening and ends open connections (including live event streams). */
  close(): Promise<void>;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

export async function startControlServer(options: StartControlServerOptions): Promise<ControlServer> {
  const host = options.host ?? '127.0.0.1';
  const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (!isLoopbackHost(host)) {
    warn(
      `WARNING: the Handover control API is listening on ${host}, which is not a loopback address.\n` +
        `WARNING: anyone who can reach it and holds the control token can detach and stop workers.\n` +
        `WARNING: set control.host to 127.0.0.1 unless a firewall or TLS proxy protects it.`,
    );
  }
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const server = http.createServer(
    {
      requestTimeout,
      headersTimeout: requestTimeout,
      // Node looks for expired requests only this often (default 30 s).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(requestTimeout / 4))),
    },
    createControlHandler(options),
  );
  // Without a listener Node drops a CONNECT's socket without an answer.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    // The socket is ours now: a client resetting it must not become an uncaught 'error'.
    socket.on('error', () => {});
    const body = JSON.stringify({ error: { code: 'METHOD_NOT_SUPPORTED', message: 'CONNECT is not supported: this is not a proxy' } });
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nAllow: ${SERVER_METHODS}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  const port = await listenServer(server, options.port, host, options.fd);
  let closing: Promise<void> | null = null;
  return {
    server,
    port,
    url: `http://${bracketHost(host)}:${port}/`,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Live event streams never end by themselves.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
