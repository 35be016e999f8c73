/**
 * An open WebSocket: the worker answered the handshake with 101, so the client's and the
 * worker's sockets leave the engine and are piped together. The tunnel holds one unit of the
 * worker's `webSockets` (a detached worker drains only when it is gone) and ends when either
 * side closes, or after tunnelIdleTimeoutMs with no bytes either way.
 */
import type { Socket } from 'node:net';
import type { SessionPin } from '@handover/session-table';
import type { Upstream } from '../types';
import { type Exchange, finish } from './exchange';
import { type EngineState, notifyRelease } from './state';
import type { UpConn } from './worker-connection';

class Tunnel {
  private closed = false;
  constructor(
    readonly state: EngineState,
    readonly client: Socket,
    readonly worker: Socket,
    readonly upstream: Upstream,
    /** An open WebSocket keeps its session from eviction. */
    readonly pin: SessionPin | undefined,
  ) {}

  /** Ends both sides; gives back the webSockets count once. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.state.tunnels.delete(this);
    this.client.destroy();
    this.worker.destroy();
    // The session was in use all the while the socket was open: its idle clock starts now.
    if (this.pin !== undefined) this.state.route.sessions.unpin(this.pin, true);
    this.upstream.lease.webSocketClosed();
    notifyRelease(this.state, this.upstream);
  }
}

/** The worker said 101: answer the client, then pipe the two sockets (with the bytes each side sent early). */
export function openTunnel(ex: Exchange, up: UpConn, fromWorker: Buffer): void {
  const conn = ex.conn;
  const state = conn.state;
  const upstream = ex.upstream as Upstream;
  const client = conn.socket;
  const worker = up.socket;
  const head = ex.switching as string;
  ex.switching = undefined;
  ex.up = undefined;
  up.detach();
  conn.detach();
  // The handshake is over: its in-flight unit goes back as the tunnel's webSockets unit comes.
  upstream.lease.webSocketOpened();
  const pin = ex.sessionId === undefined ? undefined : state.route.sessions.pin(ex.sessionId, upstream);
  ex.responseDone = true;
  ex.requestDone = true;
  finish(ex);
  const tunnel = new Tunnel(state, client, worker, upstream, pin);
  state.tunnels.add(tunnel);
  const end = () => tunnel.destroy();
  client.on('error', end);
  worker.on('error', end);
  client.on('close', end);
  worker.on('close', end);
  client.setTimeout(state.tunnelIdleTimeoutMs, end);
  worker.setNoDelay(true);
  client.write(head, 'latin1');
  if (fromWorker.length > 0) client.write(fromWorker);
  if (ex.early !== undefined) worker.write(ex.early);
  worker.pipe(client);
  client.pipe(worker);
}
