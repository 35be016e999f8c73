import { request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { accountResponse } from './passes/account-response';
import { chooseUpstream, fallbackUpstream } from './passes/choose-upstream';
import { findSessionId } from './passes/find-session';
import { BODY_NONE, forwardRequestHeaders, forwardResponseHeaders, type BodyKind } from './passes/forward-headers';
import { notifyRelease, type ProxyState } from './state';
import type { Upstream } from './types';

/**
 * One client request on its way through the proxy. The event listeners below are module-level
 * functions that find their Exchange through a symbol on the emitter, so a request allocates
 * this object and the header list, not a set of closures.
 */
class Exchange {
  sessionId: string | undefined = undefined;
  upstream: Upstream | undefined = undefined;
  /** This exchange holds one unit of upstream.inFlight. */
  counted = false;
  proxyReq: ClientRequest | undefined = undefined;
  readonly headers: string[] = [];
  body: BodyKind = BODY_NONE;
  /** The current attempt's socket is connected (so request bytes may have been sent). */
  connected = false;
  bodyStarted = false;
  responded = false;
  retried = false;
  timer: NodeJS.Timeout | undefined = undefined;
  constructor(
    readonly state: ProxyState,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}
}

const kExchange = Symbol('handover.exchange');
interface Tagged {
  [kExchange]?: Exchange;
}
function exchangeOf(emitter: object): Exchange {
  return (emitter as Tagged)[kExchange] as Exchange;
}

function isHealthz(url: string | undefined): boolean {
  return url === '/healthz' || (url !== undefined && url.startsWith('/healthz?'));
}

/** The 'request' handler: the passes in order. */
export function handleRequest(state: ProxyState, req: IncomingMessage, res: ServerResponse): void {
  const ex = new Exchange(state, req, res);
  (res as Tagged)[kExchange] = ex;
  state.active++;
  res.on('close', onClientClose);
  // The proxy's own liveness, never forwarded (a worker's /healthz is the supervisor's business).
  if (isHealthz(req.url)) return reply(ex, 200, 'ok\n');
  ex.sessionId = findSessionId(req.rawHeaders, req.url, state.route);
  const upstream = chooseUpstream(state.route, ex.sessionId);
  if (upstream === undefined) return reply(ex, 503, 'No worker is ready; retry shortly.\n', true);
  ex.body = forwardRequestHeaders(req, ex.headers, false, state.trustForwarded);
  dispatch(ex, upstream);
}

/** Sends the request to a worker (again, on a retry), counting it in the worker's inFlight. */
function dispatch(ex: Exchange, upstream: Upstream): void {
  const req = ex.req;
  ex.upstream = upstream;
  upstream.inFlight++;
  ex.counted = true;
  ex.connected = false;
  let proxyReq: ClientRequest;
  try {
    proxyReq = request({
      host: upstream.host,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: ex.headers,
      agent: ex.state.agent,
    });
  } catch {
    // Node's client refused what its server parser let through (a header it will not send).
    return reply(ex, 400, 'Bad Request\n');
  }
  (proxyReq as Tagged)[kExchange] = ex;
  ex.proxyReq = proxyReq;
  proxyReq.on('socket', onUpstreamSocket);
  proxyReq.on('response', onUpstreamResponse);
  proxyReq.on('error', onUpstreamError);
  if (ex.body === BODY_NONE) proxyReq.end();
}

function onUpstreamSocket(this: ClientRequest, socket: Socket): void {
  const ex = exchangeOf(this);
  if (ex.proxyReq !== this) return;
  if (socket.connecting) {
    // A new connection: hold the body back until it connects, so a refused connection can
    // still be retried elsewhere with nothing lost.
    (socket as Tagged)[kExchange] = ex;
    socket.once('connect', onUpstreamConnect);
    ex.timer = setTimeout(onConnectTimeout, ex.state.connectTimeoutMs, ex, this);
  } else {
    ex.connected = true;
    startBody(ex);
  }
}

function onUpstreamConnect(this: Socket): void {
  const ex = exchangeOf(this);
  delete (this as Tagged)[kExchange];
  if (ex.timer !== undefined) {
    clearTimeout(ex.timer);
    ex.timer = undefined;
  }
  if (ex.proxyReq === undefined || ex.proxyReq.socket !== this || ex.proxyReq.destroyed) return;
  ex.connected = true;
  startBody(ex);
}

function onConnectTimeout(ex: Exchange, proxyReq: ClientRequest): void {
  ex.timer = undefined;
  if (ex.proxyReq !== proxyReq || ex.connected) return;
  const error: NodeJS.ErrnoException = new Error('upstream connect timeout');
  error.code = 'ETIMEDOUT';
  proxyReq.destroy(error);
}

function startBody(ex: Exchange): void {
  if (ex.body === BODY_NONE || ex.bodyStarted) return;
  ex.bodyStarted = true;
  // Streams without buffering; backpressure both ways. A client abort is handled by onClientClose.
  ex.req.pipe(ex.proxyReq as ClientRequest);
}

function onUpstreamResponse(this: ClientRequest, upRes: IncomingMessage): void {
  const ex = exchangeOf(this);
  if (ex.proxyReq !== this) {
    upRes.resume();
    return;
  }
  ex.responded = true;
  const state = ex.state;
  // The worker made or ended the session whether or not the client is still there.
  accountResponse(state.route, ex.upstream as Upstream, ex.sessionId, upRes.rawHeaders);
  const res = ex.res;
  if (res.destroyed) {
    this.destroy();
    return;
  }
  try {
    res.writeHead(upRes.statusCode as number, upRes.statusMessage, forwardResponseHeaders(upRes.rawHeaders, state.closing));
  } catch {
    this.destroy();
    return reply(ex, 502, 'Bad Gateway: invalid response from the worker\n');
  }
  (upRes as Tagged)[kExchange] = ex;
  upRes.on('close', onUpstreamResponseClose);
  upRes.pipe(res);
}

function onUpstreamResponseClose(this: IncomingMessage): void {
  // The worker's connection ended mid-body: drop the client's connection too, so it sees a
  // failure rather than a short response that looks complete.
  if (!this.complete) exchangeOf(this).res.destroy();
}

function onUpstreamError(this: ClientRequest, error: NodeJS.ErrnoException): void {
  const ex = exchangeOf(this);
  if (ex.proxyReq !== this) return;
  if (ex.timer !== undefined) {
    clearTimeout(ex.timer);
    ex.timer = undefined;
  }
  const res = ex.res;
  if (ex.responded || res.headersSent) {
    res.destroy();
    return;
  }
  if (res.destroyed || res.writableEnded) return; // the client left; nobody to answer
  const next = retryUpstream(ex, this, error);
  if (next !== undefined) {
    ex.retried = true;
    release(ex);
    dispatch(ex, next);
    return;
  }
  reply(ex, 502, 'Bad Gateway: the worker could not be reached\n');
}

function isIdempotent(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** Where a failed attempt may be retried, once, with nothing of the request lost or doubled. */
function retryUpstream(ex: Exchange, proxyReq: ClientRequest, error: NodeJS.ErrnoException): Upstream | undefined {
  if (ex.retried || ex.bodyStarted) return undefined;
  const failed = ex.upstream as Upstream;
  // Never connected (refused, unreachable, timed out): the worker saw nothing; try the target.
  if (!ex.connected) return fallbackUpstream(ex.state.route, failed);
  // A pooled connection the worker closed just as we reused it: a fresh one to the same worker.
  if (proxyReq.reusedSocket && error.code === 'ECONNRESET' && ex.body === BODY_NONE && isIdempotent(ex.req.method)) {
    return failed.routable ? failed : undefined;
  }
  return undefined;
}

function onClientClose(this: ServerResponse): void {
  const ex = exchangeOf(this);
  const state = ex.state;
  state.active--;
  if (ex.timer !== undefined) {
    clearTimeout(ex.timer);
    ex.timer = undefined;
  }
  // The client went away before the answer was complete: stop the worker's side too.
  if (ex.proxyReq !== undefined && !this.writableFinished) ex.proxyReq.destroy();
  release(ex);
  if (state.active === 0 && state.idle !== undefined) state.idle();
}

/** Gives back the exchange's unit of inFlight, exactly once per dispatch. */
function release(ex: Exchange): void {
  if (!ex.counted) return;
  ex.counted = false;
  const upstream = ex.upstream as Upstream;
  upstream.inFlight--;
  notifyRelease(ex.state, upstream);
}

function reply(ex: Exchange, status: number, body: string, retryAfter = false): void {
  const res = ex.res;
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const headers = ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body))];
  if (retryAfter) headers.push('Retry-After', '1');
  if (ex.state.closing) headers.push('Connection', 'close');
  res.writeHead(status, headers);
  res.end(body);
}
