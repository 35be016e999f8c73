/**
 * The invariants, checked per batch once the proxy is quiet: every request the proxy accepted
 * reached the worker exactly once with the same method, target, headers and body bytes; nothing
 * else reached the worker; every response went to the client (and the request) that caused it.
 */
import type { GenRequest, GenStream } from './generate';
import type { ClientResponse, StreamResult } from './client';
import { fnv } from './prng';
import { clientView, echoBody, headerDigest, parseDirectives, responseHeaders, type WorkerError, type WorkerRecord } from './worker';
import { headerValues } from './wire';

export interface Finding {
  kind: string;
  /** "seed/index" of the stream that shows it. */
  stream: string;
  request: string | undefined;
  detail: string;
  why: string[];
  /** The request before it on the same worker connection (maybe another stream's: the cause). */
  related: string | undefined;
}

/** Headers the proxy owns (framing, Host, X-Forwarded-*) or the harness adds; compared separately. */
const PROXY_OWNED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-fuzz-do']);

function multisetDiff(a: string[], b: string[]): string[] {
  const left = [...b];
  const out: string[] = [];
  for (const x of a) {
    const at = left.indexOf(x);
    if (at === -1) out.push(x);
    else left.splice(at, 1);
  }
  return out;
}

function short(s: string, n = 120): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** How the worker's record differs from what the client sent (empty: exact). */
export function compareAtWorker(req: GenRequest, rec: WorkerRecord): string[] {
  const out: string[] = [];
  if (rec.method !== req.method) out.push(`method ${req.method} reached the worker as ${rec.method}`);
  if (rec.target !== req.expectTarget) out.push(`target ${short(JSON.stringify(req.expectTarget))} reached the worker as ${short(JSON.stringify(rec.target))}`);
  if (rec.complete && !rec.body.equals(req.body)) {
    out.push(`body differs: sent ${req.body.length} bytes (${fnv(req.body)}), worker got ${rec.body.length} (${fnv(rec.body)})`);
  } else if (!rec.complete && req.kind !== 'invalid' && !req.body.subarray(0, rec.body.length).equals(rec.body)) {
    // (An invalid body, a bad chunk, may be forwarded up to the error: those bytes are not req.body.)
    out.push(`partial body is not a prefix of the sent body`);
  }
  const hosts = headerValues(rec.headers, 'host');
  if (hosts.length !== 1) out.push(`worker got ${hosts.length} Host headers (${short(JSON.stringify(hosts))})`);
  else if (req.host !== undefined && hosts[0] !== req.host) out.push(`Host ${JSON.stringify(req.host)} reached the worker as ${JSON.stringify(hosts[0])}`);
  // (Upgrade tokens are case-insensitive: a proxy may write "websocket" for "WebSocket".)
  const line = ([n, v]: [string, string]) => `${n.toLowerCase()}: ${n.toLowerCase() === 'upgrade' ? v.toLowerCase() : v}`;
  const got = rec.headers.filter(([n]) => !PROXY_OWNED.has(n.toLowerCase())).map(line);
  const want = req.expect.filter(([n]) => !PROXY_OWNED.has(n.toLowerCase())).map(line);
  const extra = multisetDiff(got, want);
  const missing = multisetDiff(want, got);
  if (extra.length > 0) out.push(`headers the worker must not see reached it: ${short(extra.join(' | '), 200)}`);
  if (missing.length > 0) out.push(`headers missing at the worker: ${short(missing.join(' | '), 200)}`);
  if (req.codings !== undefined) {
    const te = headerValues(rec.headers, 'transfer-encoding').join(',').toLowerCase().replace(/\s/g, '');
    if (te !== req.codings.toLowerCase().replace(/\s/g, '')) out.push(`transfer codings ${JSON.stringify(req.codings)} reached the worker as ${JSON.stringify(te)}`);
  }
  if (rec.upgraded && !req.websocket) out.push(`upgrade ${JSON.stringify(headerValues(rec.headers, 'upgrade')[0])} was tunnelled to the worker`);
  return out;
}

/** The proxy's idle keep-alive limit in the fuzz host (host.ts), which it announces as `Keep-Alive: timeout=3`. */
export const FUZZ_KEEP_ALIVE_MS = 3000;
const OWN_KEEP_ALIVE = `timeout=${FUZZ_KEEP_ALIVE_MS / 1000}`;

/** How a worker answer the client got differs from what the worker sent for `req`. */
export function compareResponse(req: GenRequest, resp: ClientResponse): string[] {
  const out: string[] = [];
  const d = parseDirectives(req.directives.join(' '));
  const status = req.early ? 401 : d.status;
  if (resp.status !== status) return [`status ${resp.status}, the worker answered ${status}`];
  const sent = responseHeaders(req.id, d, status);
  const extra = multisetDiff(clientView(resp.headers), clientView(sent));
  const missing = multisetDiff(clientView(sent), clientView(resp.headers));
  if (extra.length > 0) out.push(`response headers the worker never sent as headers: ${short(extra.join(' | '), 200)}`);
  if (missing.length > 0) out.push(`response headers lost: ${short(missing.join(' | '), 200)}`);
  // The proxy's own Keep-Alive (its timeout, once) is not the worker's hop-by-hop one passed on.
  const keepAlive = headerValues(resp.headers, 'keep-alive');
  const ownKeepAlive = keepAlive.length === 1 && keepAlive[0] === OWN_KEEP_ALIVE;
  for (const [name] of resp.headers) {
    if (/^(keep-alive|proxy-connection|trailer|upgrade|x-fuzz-hop)$/i.test(name) && !(ownKeepAlive && /^keep-alive$/i.test(name))) {
      out.push(`hop-by-hop ${name} reached the client`);
    }
  }
  if (req.version === 'HTTP/1.0' && resp.framing === 'chunked') out.push('chunked answer to an HTTP/1.0 request');
  const bodyless = req.method === 'HEAD' || status === 204 || status === 304;
  if (bodyless) {
    if (resp.body.length > 0) out.push(`${resp.body.length} body bytes on a bodyless answer`);
    return out;
  }
  const line = resp.body.toString('latin1', 0, Math.max(0, resp.body.indexOf(10)));
  const n = Number(/ n=(\d+) /.exec(line)?.[1] ?? -1);
  if (n < 0 || n > req.body.length || (!req.early && n !== req.body.length)) {
    out.push(`answer body does not match: ${short(JSON.stringify(line))}`);
    return out;
  }
  const want = echoBody(req.id, req.method, req.expectTarget, req.body.subarray(0, n), headerDigest(sent), d.pad);
  if (!resp.body.equals(want)) out.push(`answer body differs (${resp.body.length} bytes, want ${want.length}): ${short(JSON.stringify(line))}`);
  return out;
}

export function checkStream(stream: GenStream, result: StreamResult, byId: Map<string, WorkerRecord[]>): Finding[] {
  const findings: Finding[] = [];
  const reqs = stream.requests;
  const add = (kind: string, req: GenRequest | undefined, detail: string, related?: string) =>
    findings.push({ kind, stream: stream.name, request: req?.id, detail, why: req?.why ?? [], related });
  const sent = (r: GenRequest) => r.end <= result.written;
  const started = (r: GenRequest) => r.start < result.written;
  /** Bytes after request i (an invalid request, data after a close) may make the proxy drop or refuse it. */
  const trouble = (i: number) =>
    reqs.some((r, j) => j > i && started(r) && (r.kind !== 'valid' || (reqs[j - 1] as GenRequest).closes));
  const afterEarly = (i: number) => reqs.some((r, j) => j < i && r.early);
  const cut = stream.cut !== undefined;
  /** The proxy may still process requests on this connection. */
  let open = true;
  /** Responses are still being matched to requests (false once one is missing). */
  let answering = true;
  let r = 0;
  for (let i = 0; i < reqs.length; i++) {
    const req = reqs[i] as GenRequest;
    const recs = byId.get(req.id) ?? [];
    const complete = recs.filter((c) => c.complete);
    if (complete.length > 1) add('DUPLICATE', req, `reached the worker ${complete.length} times`);
    if (complete.length > 0 && (!open || req.kind === 'invalid' || !sent(req) || req.local)) {
      const why = req.kind === 'invalid' ? 'an invalid request' : !sent(req) ? 'a request the client never finished' : req.local ? 'a request the proxy answers itself' : 'a request after the connection was over';
      add('FORWARDED', req, `${why} reached the worker`, complete[0]?.prev);
    }
    for (const rec of recs) for (const problem of compareAtWorker(req, rec)) add('MISMATCH', req, problem, rec.prev);
    if (!open || !answering) continue;
    const resp = result.responses[r];
    if (resp === undefined) {
      const excused = cut || !sent(req) || trouble(i) || afterEarly(i) || req.kind !== 'valid' || result.upgradedAt !== undefined || result.parseError !== undefined;
      if (!excused) add('MISSING_RESPONSE', req, `no answer${result.timedOut ? ' (the client waited 8 s: a hang)' : result.closed ? ', the proxy closed the connection' : ''}`);
      // (Not after a reset: a proxy that closes while the client still sends may lose its 400 that way.)
      else if (req.kind === 'invalid' && sent(req) && !cut && !result.parseError && !result.reset && result.responses.length === i) {
        add('MISSING_REFUSAL', req, `an invalid request got no 4xx${result.timedOut ? ' (the client waited 8 s)' : ''}`);
      }
      answering = false;
      // The client gave up (cut): requests it had finished may still be forwarded, exactly.
      if (!cut) open = false;
      continue;
    }
    r++;
    const id = headerValues(resp.headers, 'x-fuzz-id')[0];
    // An answer that says the connection ends is the last one: nothing after it is processed.
    const closing = headerValues(resp.headers, 'connection').some((v) => /(^|,)\s*close\s*(,|$)/i.test(v));
    if (req.local && id === undefined && resp.status === 200) {
      const want = req.method === 'HEAD' ? '' : 'ok\n';
      if (resp.body.toString('latin1') !== want) add('BAD_RESPONSE', req, `the proxy's own answer to ${req.method} ${req.expectTarget} has body ${JSON.stringify(short(resp.body.toString('latin1')))}`);
    } else if (resp.status === 101 && req.websocket && id === req.id) {
      const t = result.tunnel;
      if (t !== undefined && t.echoed !== t.sent && !cut) add('TUNNEL', req, `through the WebSocket tunnel the client sent ${JSON.stringify(t.sent)} and got back ${JSON.stringify(short(t.echoed))}`);
      open = false;
    } else if (resp.status === 101) {
      add('TUNNELLED', req, `101 for ${JSON.stringify(req.why)}: the connection became a tunnel`);
      open = false;
    } else if (id !== undefined) {
      if (id !== req.id) {
        add('MISROUTED', req, `got the answer to ${id}`);
        open = false;
        continue;
      }
      for (const problem of compareResponse(req, resp)) add('BAD_RESPONSE', req, problem, complete[0]?.prev);
      if (req.closes) open = false;
    } else {
      const refusal = resp.status === 400 || resp.status === 431 || resp.status === 408 || resp.status === 417 || resp.status === 501 || resp.status === 505;
      if (resp.status === 408 && sent(req) && !result.waitExpired) add('STALLED', req, `408 although the client had sent the whole request without delay`);
      else if (!refusal) add('PROXY_ERROR', req, `the proxy answered ${resp.status} itself: ${short(resp.body.toString('latin1'))}`);
      else if (req.kind === 'valid' && !trouble(i)) add('REFUSED_VALID', req, `a valid request got ${resp.status} from the proxy`);
      if (refusal && complete.length > 0 && !trouble(i)) add('FORWARDED', req, `reached the worker, yet the client got ${resp.status} from the proxy`);
      if (refusal) open = false;
    }
    if (closing) open = false;
  }
  if (r < result.responses.length) {
    add('EXTRA_RESPONSE', undefined, `${result.responses.length - r} answer(s) more than requests: ${result.responses.slice(r).map((x) => `${x.status} ${headerValues(x.headers, 'x-fuzz-id')[0] ?? ''}`).join(', ')}`);
  }
  if (result.parseError !== undefined) {
    const cutShort = result.parseError.startsWith('connection closed mid-message');
    const after = reqs[r - 1];
    const where = after === undefined ? 'in the first answer' : `after the answer to ${after.id} (${after.method} ${short(after.expectTarget, 40)})`;
    if (!cutShort || !(cut || trouble(Math.max(0, r - 1)) || result.timedOut)) add('BAD_FRAMING', after ?? reqs[0], `the client's parser, ${where}: ${result.parseError}`);
  }
  return findings;
}

/** Worker-side messages no stream of the batch sent (smuggled), and bytes the worker could not parse. */
export function checkWorker(
  records: WorkerRecord[],
  errors: WorkerError[],
  known: Map<string, GenRequest>,
  streamOf: (id: string | undefined) => string,
): Finding[] {
  const findings: Finding[] = [];
  for (const rec of records) {
    if (rec.id !== undefined && known.has(rec.id)) continue;
    findings.push({
      kind: 'SMUGGLED', stream: streamOf(rec.prev), request: rec.prev, related: rec.prev, why: known.get(rec.prev ?? '')?.why ?? [],
      detail: `the worker parsed ${rec.method} ${short(rec.target, 60)} (X-Fuzz-Id ${rec.id ?? 'none'}) that no client sent as a request`,
    });
  }
  for (const e of errors) {
    findings.push({
      kind: 'MALFORMED_TO_WORKER', stream: streamOf(e.prev), request: e.prev, related: e.prev, why: known.get(e.prev ?? '')?.why ?? [],
      detail: `the worker's strict parser rejected what the proxy sent after ${e.prev ?? 'connecting'}: ${e.reason}`,
    });
  }
  return findings;
}
