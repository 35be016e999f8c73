import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { accountResponse } from './passes/account-response';
import { chooseUpstream, fallbackUpstream } from './passes/choose-upstream';
import { findSessionId } from './passes/find-session';
import { forwardRequestHeaders, forwardResponseHeaders } from './passes/forward-headers';
import { connectionTokens, isInternal, isListed, nameIs } from './passes/header-names';
import { notifyRelease, textHead, type SharedState } from './state';
import type { Upstream } from './types';

/**
 * An upgraded connection (WebSocket): same affinity as plain requests, the handshake sent with
 * Node's HTTP client (so a refusal is parsed and relayed properly), then the two raw sockets
 * piped together. Upgrades are rare next to requests, so closures are fine here.
 */
class Tunnel {
  upstream: Upstream | undefined = undefined;
  proxyReq: ClientRequest | undefined = undefined;
  upSocket: Duplex | undefined = undefined;
  /** Counted in upstream.inFlight: the handshake is under way at the worker. */
  handshaking = false;
  /** Counted in upstream.webSockets. */
  open = false;
  closed = false;
  retried = false;
  readonly headers: string[] = [];
  constructor(
    readonly state: SharedState,
    readonly req: IncomingMessage,
    readonly socket: Socket,
    readonly head: Buffer,
    readonly sessionId: string | undefined,
  ) {}

  /** Ends both sides; gives back the webSockets count once. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.state.tunnels.delete(this);
    this.proxyReq?.destroy();
    this.upSocket?.destroy();
    this.socket.destroy();
    this.endHandshake();
    if (this.open) {
      this.open = false;
      const upstream = this.upstream as Upstream;
      upstream.webSockets--;
      notifyRelease(this.state, upstream);
    }
  }

  /** Gives back the handshake's unit of inFlight, once per attempt. */
  endHandshake(): void {
    if (!this.handshaking) return;
    this.handshaking = false;
    const upstream = this.upstream as Upstream;
    upstream.inFlight--;
    notifyRelease(this.state, upstream);
  }
}

/** Answers on the raw socket (there is no ServerResponse after an upgrade) and closes it. */
function refuse(tunnel: Tunnel, status: number, reason: string, body: string, retryAfter = false): void {
  const socket = tunnel.socket;
  tunnel.endHandshake();
  tunnel.closed = true;
  tunnel.state.tunnels.delete(tunnel);
  if (socket.writable) socket.end(textHead(status, reason, body, retryAfter));
  // Do not wait forever for a client that keeps its side open.
  socket.setTimeout(5000, () => socket.destroy());
}

/** The 'upgrade' handler. */
export function handleUpgrade(state: SharedState, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const sessionId = findSessionId(req.rawHeaders, req.url, state.route);
  // Node hands over the connection's net.Socket (a tls.TLSSocket is one too).
  const tunnel = new Tunnel(state, req, socket as Socket, head, sessionId);
  if (state.closing) return refuse(tunnel, 503, 'Service Unavailable', 'The proxy is shutting down.\n', true);
  const upstream = chooseUpstream(state.route, sessionId, req.rawHeaders);
  if (upstream === undefined) return refuse(tunnel, 503, 'Service Unavailable', 'No worker is ready; retry shortly.\n', true);
  forwardRequestHeaders(req, tunnel.headers, true, state.trustForwarded);
  state.tunnels.add(tunnel);
  socket.on('close', () => tunnel.destroy());
  connect(tunnel, upstream);
}

function connect(tunnel: Tunnel, upstream: Upstream): void {
  const { state, req } = tunnel;
  tunnel.upstream = upstream;
  upstream.inFlight++;
  tunnel.handshaking = true;
  let connected = false;
  let timer: NodeJS.Timeout | undefined;
  let proxyReq: ClientRequest;
  try {
    proxyReq = request({
      host: upstream.host,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: tunnel.headers,
      agent: state.upgradeAgent,
    });
  } catch {
    return refuse(tunnel, 400, 'Bad Request', 'Bad Request\n');
  }
  tunnel.proxyReq = proxyReq;
  // The worker must answer the handshake in time (a stuck worker cannot hold the client, nor
  // its in-flight count, for ever).
  let answerLate = false;
  if (state.upgradeTimeoutMs > 0) {
    proxyReq.setTimeout(state.upgradeTimeoutMs, () => {
      answerLate = true;
      proxyReq.destroy();
    });
  }

  proxyReq.on('socket', (socket: Socket) => {
    if (!socket.connecting) {
      connected = true;
      return;
    }
    timer = setTimeout(() => {
      const error: NodeJS.ErrnoException = new Error('upstream connect timeout');
      error.code = 'ETIMEDOUT';
      proxyReq.destroy(error);
    }, state.connectTimeoutMs);
    socket.once('connect', () => {
      connected = true;
      clearTimeout(timer);
    });
  });

  proxyReq.on('error', () => {
    clearTimeout(timer);
    if (tunnel.proxyReq !== proxyReq) return;
    if (tunnel.closed || tunnel.upSocket !== undefined) return tunnel.destroy();
    if (!connected && !tunnel.retried) {
      const next = fallbackUpstream(state.route, upstream);
      if (next !== undefined) {
        tunnel.retried = true;
        tunnel.endHandshake();
        return connect(tunnel, next);
      }
    }
    if (answerLate && connected) return refuse(tunnel, 504, 'Gateway Timeout', 'Gateway Timeout: the worker did not answer the upgrade in time\n');
    refuse(tunnel, 502, 'Bad Gateway', 'Bad Gateway: the worker could not be reached\n');
  });

  // The worker refused the upgrade: relay its answer as a complete response, then close.
  proxyReq.on('response', (upRes: IncomingMessage) => {
    accountResponse(state.route, upstream, tunnel.sessionId, upRes.rawHeaders);
    const socket = tunnel.socket;
    if (tunnel.closed || !socket.writable) {
      upRes.destroy();
      return;
    }
    // The body arrives de-chunked and the connection closes after it, which frames it.
    socket.write(statusLine(upRes) + headerBlock(forwardResponseHeaders(upRes.rawHeaders, true)));
    upRes.on('close', () => {
      if (upRes.complete) {
        tunnel.endHandshake();
        tunnel.closed = true;
        state.tunnels.delete(tunnel);
        socket.end();
        socket.setTimeout(5000, () => socket.destroy());
      } else tunnel.destroy();
    });
    upRes.pipe(socket, { end: false });
  });

  proxyReq.on('upgrade', (upRes: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    clearTimeout(timer);
    accountResponse(state.route, upstream, tunnel.sessionId, upRes.rawHeaders);
    tunnel.upSocket = upSocket;
    upSocket.on('error', () => tunnel.destroy());
    upSocket.on('close', () => tunnel.destroy());
    if (tunnel.closed) {
      upSocket.destroy();
      return;
    }
    upstream.webSockets++;
    tunnel.open = true;
    tunnel.endHandshake();
    proxyReq.setTimeout(0);
    const socket = tunnel.socket;
    // Bytes either way pass the client socket: its inactivity is the tunnel's.
    socket.setTimeout(state.tunnelIdleTimeoutMs, () => tunnel.destroy());
    socket.setNoDelay(true);
    upSocket.setNoDelay(true);
    socket.write(statusLine(upRes) + headerBlock(upgradeResponseHeaders(upRes.rawHeaders)));
    if (upHead.length > 0) socket.write(upHead);
    if (tunnel.head.length > 0) upSocket.write(tunnel.head);
    upSocket.pipe(socket);
    socket.pipe(upSocket);
  });

  proxyReq.end();
}

function statusLine(upRes: IncomingMessage): string {
  return `HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage ?? ''}\r\n`;
}

function headerBlock(headers: readonly string[]): string {
  let block = '';
  for (let i = 0; i < headers.length; i += 2) block += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${block}\r\n`;
}

/** A 101's headers: Connection and Upgrade are the point of it; other hop-by-hop and internal ones go. */
function upgradeResponseHeaders(raw: readonly string[]): string[] {
  const tokens = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (
      isInternal(name) ||
      isListed(name, tokens) ||
      nameIs(name, 'keep-alive') ||
      nameIs(name, 'proxy-connection') ||
      nameIs(name, 'te') ||
      nameIs(name, 'trailer') ||
      nameIs(name, 'transfer-encoding')
    ) {
      continue;
    }
    out.push(name, raw[i + 1] as string);
  }
  return out;
}
