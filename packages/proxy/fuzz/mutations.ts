/**
 * What the generator does to a request: features a proxy must forward exactly (valid), malformed
 * input it must refuse with 4xx (invalid), and adversarial input where proxies differ
 * (ambiguous: refuse it, or forward it exactly and nothing else). Each mutation names itself in
 * `why`, which is what a finding reports.
 */
import { addHeader, addHop, type Draft, setBody } from './draft';
import type { Rng } from './prng';

type Mutation = readonly [weight: number, name: string, apply: (d: Draft, rng: Rng) => void];

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\nX-Fuzz-Id: smuggled\r\n\r\n';

function invalid(d: Draft, name: string): void {
  d.kind = 'invalid';
  d.why.push(name);
}

function ambiguous(d: Draft, name: string): void {
  if (d.kind === 'valid') d.kind = 'ambiguous';
  d.why.push(name);
}

/** Replaces the n-th "\r\n" of the head (not the final blank line) with `by`. */
function editLineEnd(rng: Rng, by: string): (head: string) => string {
  const pick = rng.next();
  return (head) => {
    const ends: number[] = [];
    for (let i = head.indexOf('\r\n'); i !== -1 && i < head.length - 4; i = head.indexOf('\r\n', i + 2)) ends.push(i);
    const at = ends[Math.floor(pick * ends.length)] as number;
    return head.slice(0, at) + by + head.slice(at + 2);
  };
}

function withBody(d: Draft, rng: Rng, framing?: 'cl' | 'chunked'): void {
  if (d.method === 'HEAD' || d.method === 'GET') d.method = 'POST';
  if (d.body.length === 0 || (framing !== undefined && d.framing !== framing)) setBody(d, rng, framing);
  if (d.body.length === 0) d.body = Buffer.from('x');
  if (d.framing === 'chunked' && d.chunks.length === 0) {
    d.chunks = [d.body.length];
    d.exts = [''];
  }
}

function hopHeaders(d: Draft, rng: Rng): void {
  addHop(d, 'Connection', rng.pick(['x-drop-me', 'keep-alive, X-Drop-Me', 'X-Drop-Me , te']));
  addHop(d, 'X-Drop-Me', 'secret');
  addHop(d, 'Keep-Alive', 'timeout=5');
  addHop(d, 'Proxy-Connection', 'keep-alive');
  addHop(d, 'TE', 'trailers');
  addHop(d, 'Trailer', 'X-Fuzz-Trailer-Req');
}

function internalHeaders(d: Draft): void {
  addHop(d, 'X-Handover-Session', `forged-${d.id}; ttl=999`);
}

function sessionCookie(d: Draft): void {
  addHeader(d, 'Cookie', `sid=unknown-${d.id}; other=1`);
}

export const VALID: readonly Mutation[] = [
  [10, 'plain', () => {}],
  [3, 'chunked body', (d, rng) => withBody(d, rng, 'chunked')],
  [3, 'content-length body', (d, rng) => withBody(d, rng, 'cl')],
  [2, 'chunked body with trailers', (d, rng) => {
    withBody(d, rng, 'chunked');
    d.trailers = [`X-Fuzz-Trailer-Req: ${d.id}`, 'X-Fuzz-Trailer-Two: t'];
  }],
  [2, 'hop-by-hop headers', hopHeaders],
  [2, 'internal headers from the client', internalHeaders],
  [2, 'absolute-form target', (d, rng) => {
    const authority = rng.pick(['other.test', 'other.test:81', '127.0.0.1:9']);
    d.expectTarget = d.target;
    d.target = `${rng.pick(['http', 'HTTP', 'https'])}://${authority}${d.target}`;
    d.host = authority;
  }],
  [2, 'HTTP/1.0', (d) => {
    d.version = 'HTTP/1.0';
    d.closes = true;
    if (d.framing === 'chunked') d.framing = 'cl';
  }],
  [1, 'HTTP/1.0 without Host', (d) => {
    d.version = 'HTTP/1.0';
    d.closes = true;
    d.lines = d.lines.filter((l) => !/^host:/i.test(l));
    d.host = undefined;
    if (d.framing === 'chunked') d.framing = 'cl';
  }],
  [2, 'Connection: close', (d) => {
    addHop(d, 'Connection', 'close');
    d.closes = true;
  }],
  [2, 'Expect: 100-continue', (d, rng) => {
    withBody(d, rng);
    addHeader(d, 'Expect', '100-continue');
    d.expectContinue = true;
  }],
  [3, 'worker answers before the body ends', (d, rng) => {
    withBody(d, rng);
    if (d.body.length < 2) d.body = Buffer.concat([d.body, Buffer.from('more')]);
    if (d.framing === 'chunked') d.chunks = [1, d.body.length - 1];
    d.exts = ['', ''];
    d.early = true;
    d.directives.push('early0', ...(rng.chance(0.5) ? ['close'] : []));
  }],
  [1, 'Content-Length with leading zeros and spaces', (d, rng) => {
    withBody(d, rng, 'cl');
    d.lines.push(`Content-Length: ${rng.pick(['00', ' ', ''])}${d.body.length}${rng.pick([' ', ''])}`);
  }],
  [1, 'Transfer-Encoding in odd case', (d, rng) => {
    withBody(d, rng, 'chunked');
    d.lines.push(`transfer-encoding: ${rng.pick(['Chunked', 'CHUNKED', ' chunked '])}`);
  }],
  [1, 'session cookie', sessionCookie],
  [2, 'WebSocket handshake', (d, rng) => {
    d.method = 'GET';
    d.framing = 'none';
    d.body = Buffer.alloc(0);
    addHeader(d, 'Upgrade', rng.pick(['websocket', 'WebSocket']));
    addHop(d, 'Connection', rng.pick(['Upgrade', 'keep-alive, Upgrade']));
    addHeader(d, 'Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==');
    addHeader(d, 'Sec-WebSocket-Version', '13');
    d.websocket = true;
    d.closes = true;
  }],
  [1, 'health check', (d, rng) => {
    d.method = rng.pick(['GET', 'HEAD']);
    d.target = d.expectTarget = rng.pick(['/healthz', '/healthz?probe=1']);
    d.framing = 'none';
    d.body = Buffer.alloc(0);
    d.local = true;
  }],
];

export const INVALID: readonly Mutation[] = [
  [2, 'Content-Length and Transfer-Encoding', (d, rng) => {
    withBody(d, rng, 'chunked');
    d.lines.push(`Content-Length: ${rng.int(0, 50)}`);
  }],
  [2, 'duplicate Content-Length', (d, rng) => {
    withBody(d, rng, 'cl');
    d.lines.push(`Content-Length: ${d.body.length}`, `Content-Length: ${rng.chance(0.5) ? d.body.length : d.body.length + 3}`);
  }],
  [2, 'bad Content-Length', (d, rng) => {
    withBody(d, rng, 'cl');
    const n = d.body.length;
    d.lines.push(`Content-Length: ${rng.pick([`+${n}`, `-${n}`, `0x${n}`, `${n},${n}`, `${n} ${n}`, `${n}a`, '', `${n}.0`])}`);
  }],
  [1, 'huge Content-Length', (d, rng) => {
    withBody(d, rng, 'cl');
    d.lines.push('Content-Length: 184467440737095516160');
  }],
  [2, 'bad Transfer-Encoding', (d, rng) => {
    withBody(d, rng, 'chunked');
    const te = rng.pick(['identity', 'gzip', 'chunked, chunked', 'xchunked', 'chunked, gzip']);
    d.lines.push(`Transfer-Encoding: ${te}`);
  }],
  [1, 'two Transfer-Encoding lines', (d, rng) => {
    withBody(d, rng, 'chunked');
    d.lines.push('Transfer-Encoding: chunked', 'Transfer-Encoding: chunked');
  }],
  [2, 'obs-fold', (d, rng) => d.lines.push(`X-Folded: a\r\n${rng.pick([' ', '\t', '  '])}folded`)],
  [2, 'bare LF', (d, rng) => d.headEdits.push(editLineEnd(rng, '\n'))],
  [1, 'bare CR', (d, rng) => d.headEdits.push(editLineEnd(rng, '\r'))],
  [2, 'control character in a header value', (d, rng) => d.lines.push(`X-Ctl: a${String.fromCharCode(rng.pick([0, 1, 8, 11, 12, 27, 127]))}b`)],
  [1, 'whitespace before the colon', (d, rng) => d.lines.push(`X-Space${rng.pick([' ', '\t'])}: v`)],
  [1, 'bad header name', (d, rng) => d.lines.push(`${rng.pick(['X A', 'X\xe9', '', 'X"q', 'X(y)'])}: v`)],
  [1, 'bad request target', (d, rng) => {
    d.target = rng.pick(['/a b', '/a\x00b', '/a\x7fb', '/\xe9', '*', 'http://user@h/x', 'ftp://h/x', 'http:///x']);
    if (d.target === '*') d.method = 'GET';
  }],
  [1, 'bad version', (d, rng) => {
    d.version = rng.pick(['HTTP/1.2', 'HTTP/1.11', 'HTTP/0.8', 'http/1.1', 'HTTP/1', 'HTTP/1.1 ']);
  }],
  [1, 'bad method', (d, rng) => {
    d.method = rng.pick(['G ET', 'GET\t', 'G@T', '']);
  }],
  [2, 'bad chunk', (d, rng) => {
    withBody(d, rng, 'chunked');
    const bad = rng.pick(['zz\r\n', '5 \r\nabcde\r\n', '-1\r\n', 'fffffffffffffffffff\r\n', '3\r\nabcdef\r\n', '3\nabc\n', '2\r\nab\r\n0\r\n\r', '1\r\na\r\n0\r\nX-T\r\n\r\n']);
    d.rawBody = Buffer.from(`${bad}${SMUGGLED}0\r\n\r\n`, 'latin1');
  }],
  [1, 'bad trailer', (d, rng) => {
    withBody(d, rng, 'chunked');
    d.trailers = [rng.pick(['X-T: a\r\n folded', 'X T: v', 'X-T: a\x01b'])];
  }],
  [1, 'HTTP/1.1 without Host', (d) => {
    d.lines = d.lines.filter((l) => !/^host:/i.test(l));
  }],
  [1, 'head too large', (d, rng) => d.lines.push(`X-Big: ${'b'.repeat(rng.int(17_000, 40_000))}`)],
];

export const AMBIGUOUS: readonly Mutation[] = [
  [4, 'Connection names a framing header', (d, rng) => {
    withBody(d, rng);
    d.body = Buffer.concat([Buffer.from(SMUGGLED.replace('smuggled\r', `smuggled.${d.id}\r`), 'latin1'), d.body]);
    if (d.framing === 'chunked') {
      d.chunks = [d.body.length];
      d.exts = [''];
    }
    const token = d.framing === 'cl' ? rng.pick(['content-length', 'Content-Length', 'keep-alive, content-length', 'Fuzz-Hop-A, CONTENT-LENGTH']) : rng.pick(['transfer-encoding', 'Transfer-Encoding, fuzz-hop-b']);
    addHop(d, 'Connection', token);
  }],
  [1, 'Connection names Host', (d, rng) => addHop(d, 'Connection', rng.pick(['host', 'Host, Fuzz-Hop-A']))],
  [3, 'Upgrade other than websocket', (d, rng) => {
    const token = rng.pick(['h2c', 'foo/1', 'TLS/1.2', 'h2c, websocket']);
    const connection = rng.pick(['Upgrade', 'Upgrade, HTTP2-Settings', 'keep-alive, upgrade']);
    addHop(d, 'Upgrade', token);
    addHop(d, 'Connection', connection);
    // Named in Connection it is hop-by-hop; otherwise end-to-end and must be forwarded.
    (connection.includes('HTTP2') ? addHop : addHeader)(d, 'HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA');
    d.why.push(`upgrade:${token}`);
    ambiguous(d, 'upgrade');
  }],
  [2, 'other transfer coding before chunked', (d, rng) => {
    withBody(d, rng, 'chunked');
    const te = rng.pick(['gzip, chunked', 'deflate,chunked', 'gzip, identity, chunked']);
    d.lines.push(`Transfer-Encoding: ${te}`);
    d.codings = te;
  }],
  [2, 'duplicate Host', (d, rng) => d.lines.push(`Host: ${rng.pick([d.host ?? 'x', 'evil.test', ''])}`)],
  [1, 'HTTP/2.0 in a request line', (d) => {
    d.version = 'HTTP/2.0';
    d.closes = true;
  }],
  [1, 'unusual target characters', (d, rng) => {
    d.target = `/${rng.pick(['"', '<>', '{x}', '|', '\\', '^', '`', '%zz', '#frag'])}${d.target}`;
    d.expectTarget = d.target;
  }],
  [1, 'empty lines before the request', (d, rng) => {
    d.pre = rng.pick(['\r\n', '\r\n\r\n']);
  }],
  [1, 'unknown method', (d, rng) => {
    d.method = rng.pick(['FUZZ', 'PROPFIND', 'M-SEARCH', 'QUERY', 'PRI']);
  }],
  [1, 'HTTP/1.0 chunked', (d, rng) => {
    withBody(d, rng, 'chunked');
    d.version = 'HTTP/1.0';
    d.closes = true;
  }],
  [1, 'Expect other than 100-continue', (d, rng) => addHeader(d, 'Expect', rng.pick(['200-ok', '100-continue, foo']))],
];

/** Features that combine with any other mutation. */
const EXTRAS: readonly Mutation[] = [
  [1, 'hop-by-hop headers', hopHeaders],
  [1, 'internal headers from the client', internalHeaders],
  [1, 'session cookie', sessionCookie],
];

export function mutate(d: Draft, rng: Rng, weights = { valid: 0.62, invalid: 0.2 }): void {
  const roll = rng.next();
  const label = roll < weights.valid ? 'valid' : roll < weights.valid + weights.invalid ? 'invalid' : 'ambiguous';
  const table = label === 'valid' ? VALID : label === 'invalid' ? INVALID : AMBIGUOUS;
  const [, name, apply] = rng.weighted(table.map((m) => [m[0], m] as const));
  apply(d, rng);
  // Whether an answer to a malformed request has a body cannot depend on a method it may not know.
  if (label === 'invalid' && d.method === 'HEAD') d.method = 'GET';
  if (label === 'invalid') invalid(d, name);
  else if (label === 'ambiguous') ambiguous(d, name);
  else d.why.push(name);
  if (rng.chance(0.15)) {
    const [, extra, add] = rng.pick(EXTRAS);
    if (!d.why.includes(extra)) {
      add(d, rng);
      d.why.push(extra);
    }
  }
}
