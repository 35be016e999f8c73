import type { Agent } from 'node:http';
import type { Route, Upstream } from './types';

/** What the upgrade (WebSocket) handler needs; the engine's state has it. */
export interface SharedState {
  readonly route: Route;
  /** Non-pooling agent for upgrades: an upgraded socket never goes back to a pool. */
  readonly upgradeAgent: Agent;
  readonly onRelease: ((upstream: Upstream) => void) | undefined;
  readonly onError: (error: unknown) => void;
  readonly connectTimeoutMs: number;
  /** The worker's answer to a WebSocket handshake. */
  readonly upgradeTimeoutMs: number;
  /** An open tunnel with no bytes either way. */
  readonly tunnelIdleTimeoutMs: number;
  readonly trustForwarded: boolean;
  /** close() was called: answer with Connection: close, refuse new upgrades. */
  closing: boolean;
  /** Open (or opening) upgraded connections, destroyed by close(). */
  readonly tunnels: Set<{ destroy(): void }>;
}

/** Tells the supervisor a draining worker lost a request or a websocket; its errors never reach the socket code. */
export function notifyRelease(state: SharedState, upstream: Upstream): void {
  if (!upstream.draining || state.onRelease === undefined) return;
  try {
    state.onRelease(upstream);
  } catch (error) {
    state.onError(error);
  }
}

/** Plain-text answers made by the proxy itself. */
export function textHead(status: number, reason: string, body: string, retryAfter: boolean): string {
  return (
    `HTTP/1.1 ${status} ${reason}\r\n` +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    (retryAfter ? 'Retry-After: 1\r\n' : '') +
    'Connection: close\r\n\r\n' +
    body
  );
}
