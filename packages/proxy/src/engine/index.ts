/**
 * The proxy engine: HTTP/1.1 on raw `net` sockets with Node's own llhttp parser (strict), one
 * parser per client connection (client-connection.ts) and one per pooled worker connection
 * (worker-connection.ts); each request is an Exchange (exchange.ts) that runs the request steps
 * (request-steps.ts) and is dispatched to a worker. Heads are written as latin1 strings
 * (heads.ts); bodies stream through as the parser hands them over, never buffered beyond the
 * chunk in hand. Timeouts are one sweep (sweep.ts); every I/O entry runs in the fault guard
 * (guard.ts). A WebSocket handshake is an exchange like any other until the worker answers 101;
then both sockets leave the engine as a tunnel (tunnel.ts).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { listenServer } from '../listen';
import type { ProxyOptions, ProxyServer, ProxyStats } from '../types';
import { acceptConnection } from './client-connection';
import { assertSafeNodeVersion } from './node-version';
import { createState, DEFAULTS } from './state';
import { sweep } from './sweep';

export { DEFAULTS as PROXY_DEFAULTS };

export function createProxy(options: ProxyOptions): ProxyServer {
  assertSafeNodeVersion();
  const state = createState(options);
  // An http.Server for the interface (listen, 'connection', 'listening'…), with node:http's own
  // connection handling replaced by this engine's: it never emits 'request'.
  const server = http.createServer();
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => acceptConnection(state, socket));
  // A listening socket's errors after listen (EMFILE on accept…) are reported, never thrown;
  // listen's own (EADDRINUSE) reject listen().
  server.on('error', (error) => {
    if (server.listening) state.onError(error);
  });
  const interval = setInterval(sweep, options.connectionsCheckingIntervalMs ?? DEFAULTS.connectionsCheckingIntervalMs, state);
  interval.unref();

  let closed: Promise<void> | undefined;
  let serverClosed: Promise<void> = Promise.resolve();
  /** Ends the tunnels still open, then waits for the listener to let go of its last connection. */
  const closeTunnels = async (): Promise<void> => {
    for (const tunnel of [...state.tunnels]) tunnel.destroy();
    await serverClosed;
  };
  return {
    server,
    listen(port: number, host = '127.0.0.1', fd?: number): Promise<number> {
      return listenServer(server, port, host, fd);
    },
    stats(): ProxyStats {
      let workerConnections = 0;
      for (const pool of state.pools.values()) workerConnections += pool.open;
      let stalledClients = 0;
      for (const conn of state.conns) if (conn.stalledSince !== 0) stalledClients++;
      return {
        clientConnections: state.conns.size,
        stalledClients,
        workerConnections,
        tunnels: state.tunnels.size,
        requestsInFlight: state.active,
        ...state.counters,
        responses: state.responses.snapshot(),
      };
    },
    close(graceMs = 10_000, options: { keepTunnels?: boolean } = {}): Promise<void> {
      if (closed !== undefined) return closed;
      state.closing = true;
      serverClosed = new Promise<void>((resolve) => {
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
          // Ones ending after a Connection: close answer flush it first (and linger no longer).
          if (conn.socket.writableEnded) conn.socket.destroySoon();
          else conn.socket.destroy();
        }
        for (const pool of state.pools.values()) for (const up of pool.idle.splice(0)) up.destroy();
        // Kept open, the tunnels let the workers' own close frames through as they stop.
        if (options.keepTunnels === true) return;
        await closeTunnels();
      })();
      return closed;
    },
    closeTunnels(): Promise<void> {
      return closeTunnels();
    },
  };
}
