import { Agent, createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { handleRequest } from './http-exchange';
import { textHead, type ProxyState } from './state';
import type { ProxyOptions, ProxyServer } from './types';
import { handleUpgrade } from './websocket';
import { listenServer } from './listen';

const DEFAULTS = {
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 300_000,
  connectionsCheckingIntervalMs: 1_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderSize: 16_384,
  upstreamConnectTimeoutMs: 5_000,
  upstreamKeepAliveMs: 4_000,
};

/** Answers a request Node's parser rejected; it never reaches a worker. */
function onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const inResponse = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (error.code === 'ECONNRESET' || !socket.writable || inResponse) {
    socket.destroy();
    return;
  }
  let head: string;
  if (error.code === 'HPE_HEADER_OVERFLOW') head = textHead(431, 'Request Header Fields Too Large', 'Request Header Fields Too Large\n', false);
  else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') head = textHead(408, 'Request Timeout', 'Request Timeout\n', false);
  else head = textHead(400, 'Bad Request', 'Bad Request\n', false);
  socket.end(head);
  // A half-open client must not keep the socket: it is closed once the answer is flushed.
  socket.once('finish', () => socket.destroy());
}

export function createLegacyProxy(options: ProxyOptions): ProxyServer {
  const requestTimeout = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
  let headersTimeout = options.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs;
  if (requestTimeout > 0 && headersTimeout > requestTimeout) headersTimeout = requestTimeout;

  const state: ProxyState = {
    route: options.route,
    agent: new Agent({
      keepAlive: true,
      timeout: options.upstreamKeepAliveMs ?? DEFAULTS.upstreamKeepAliveMs,
      // Most recently used first, so surplus connections after a burst go idle and close.
      scheduling: 'lifo',
    }),
    upgradeAgent: new Agent({ keepAlive: false }),
    onRelease: options.onRelease,
    onError: options.onError ?? ((error) => console.error('[handover proxy]', error)),
    connectTimeoutMs: options.upstreamConnectTimeoutMs ?? DEFAULTS.upstreamConnectTimeoutMs,
    trustForwarded: options.trustForwardedHeaders ?? false,
    closing: false,
    active: 0,
    tunnels: new Set(),
    idle: undefined,
  };

  const server = createServer({
    headersTimeout,
    requestTimeout,
    connectionsCheckingInterval: options.connectionsCheckingIntervalMs ?? DEFAULTS.connectionsCheckingIntervalMs,
    maxHeaderSize: options.maxHeaderSize ?? DEFAULTS.maxHeaderSize,
  });
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? DEFAULTS.keepAliveTimeoutMs;

  server.on('request', (req, res) => {
    try {
      handleRequest(state, req, res);
    } catch (error) {
      // A bug must cost one request, not the process.
      state.onError(error);
      res.destroy();
    }
  });
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    try {
      handleUpgrade(state, req, socket, head);
    } catch (error) {
      state.onError(error);
      socket.destroy();
    }
  });
  server.on('clientError', onClientError);

  let closed: Promise<void> | undefined;

  return {
    server,
    listen(port: number, host = '127.0.0.1'): Promise<number> {
      return listenServer(server, port, host);
    },
    close(graceMs = 10_000): Promise<void> {
      if (closed !== undefined) return closed;
      state.closing = true;
      const serverClosed = new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
      });
      server.closeIdleConnections();
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
        server.closeAllConnections();
        for (const tunnel of [...state.tunnels]) tunnel.destroy();
        state.agent.destroy();
        state.upgradeAgent.destroy();
        await serverClosed;
      })();
      return closed;
    },
  };
}
