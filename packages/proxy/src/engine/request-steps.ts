/**
 * What happens to a request before it is sent to a worker, as one list of named steps (read it
 * top to bottom). A step either answers the request itself (returns true: done) or lets it go on.
 * The last one leaves the chosen worker on the exchange.
 */
import { chooseUpstream } from '../passes/choose-upstream';
import { findSessionId } from '../passes/find-session';
import type { Upstream } from '../types';
import { type Exchange, reply } from './exchange';
import { HOST_INVALID, HOST_MISSING, requestHead } from './heads';

type RequestStep = (ex: Exchange) => boolean;

const requestSteps: readonly RequestStep[] = [
  absoluteTargetToOriginForm,
  answerHealthz,
  chooseWorker,
  buildUpstreamHead,
];

/** Runs the steps; the worker to dispatch to, or undefined when a step answered. */
export function runRequestSteps(ex: Exchange): Upstream | undefined {
  for (let i = 0; i < requestSteps.length; i++) if ((requestSteps[i] as RequestStep)(ex)) return undefined;
  return ex.upstream;
}

/**
 * An absolute-form target ("http://host/path", RFC 9112 §3.2.2) becomes origin form, and its
 * authority replaces Host (a server MUST ignore Host then), so workers only ever see "/path".
 * `*` is kept for OPTIONS only; another scheme, no or a user-info authority → 400.
 */
function absoluteTargetToOriginForm(ex: Exchange): boolean {
  const url = ex.url;
  if (url.charCodeAt(0) === 47 /* / */) return false;
  if (url === '*' && ex.method === 'OPTIONS') return false;
  // WebSocket clients send origin form; "http://h/ws" there is not worth forwarding.
  if (ex.upgrade) {
    reply(ex, 400, 'Bad Request', 'Bad Request\n', false, true);
    return true;
  }
  const lower = url.slice(0, 8).toLowerCase();
  const start = lower.startsWith('http://') ? 7 : lower.startsWith('https://') ? 8 : -1;
  let end = start;
  while (end !== -1 && end < url.length && url[end] !== '/' && url[end] !== '?' && url[end] !== '#') end++;
  const authority = start === -1 ? '' : url.slice(start, end);
  if (authority === '' || authority.includes('@')) {
    reply(ex, 400, 'Bad Request', 'Bad Request\n', false, true);
    return true;
  }
  const rest = url.slice(end);
  ex.url = rest === '' ? '/' : rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
  ex.authority = authority;
  return false;
}

function answerHealthz(ex: Exchange): boolean {
  const url = ex.url;
  if (url !== '/healthz' && !url.startsWith('/healthz?')) return false;
  reply(ex, 200, 'OK', 'ok\n', false);
  return true;
}

/** Session affinity: the worker holding the request's session, else the route's target; none → 503. */
function chooseWorker(ex: Exchange): boolean {
  const route = ex.conn.state.route;
  ex.sessionId = findSessionId(ex.raw, ex.url, route);
  const upstream = chooseUpstream(route, ex.sessionId, ex.raw);
  if (upstream === undefined) {
    reply(ex, 503, 'Service Unavailable', 'No worker is ready; retry shortly.\n', true);
    return true;
  }
  ex.upstream = upstream;
  return false;
}

/** The head the worker gets; a missing (HTTP/1.1), repeated or malformed Host → 400 (RFC 9112 §3.2). */
function buildUpstreamHead(ex: Exchange): boolean {
  const conn = ex.conn;
  const state = conn.state;
  conn.remote ??= conn.socket.remoteAddress ?? '';
  const head = requestHead(ex.method, ex.url, ex.raw, conn.remote, state.trustForwarded, ex.upstream as Upstream, ex.authority, ex.http10, ex.upgrade);
  if (head.host === HOST_INVALID || head.host === HOST_MISSING) {
    ex.upstream = undefined;
    reply(ex, 400, 'Bad Request', 'Bad Request\n', false, true);
    return true;
  }
  if (head.unsupportedCoding) {
    ex.upstream = undefined;
    reply(ex, 501, 'Not Implemented', 'Transfer codings other than chunked are not supported\n', false, true);
    return true;
  }
  ex.head = head.head;
  ex.body = head.body;
  return false;
}
