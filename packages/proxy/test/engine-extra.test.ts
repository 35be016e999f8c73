/**
 * HTTP/1.1 behaviour the engine implements itself on raw sockets (node:http would give it for
 * free): pipelining, long heads, 100-continue, HTTP/1.0, Host, early heads, keep-alive timeouts
 * and the upstream pool's idle limit.
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { answerWith, get, makeRoute, rawExchange, readUntil, startProxy, startUpstream, waitFor } from './helpers';

describe('engine details', () => {
  it('answers pipelined requests in order on one connection', async () => {
    await using w = await startUpstream('web@0', (req, res) => {
      // The first answer is the slowest: order must still hold.
      setTimeout(() => res.end(`answer ${req.url}`), req.url === '/1' ? 30 : 0);
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const { text, socket } = await readUntil(
      port,
      (s) => s.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n'),
      (t) => t.includes('answer /3'),
    );
    socket.destroy();
    expect(text.indexOf('answer /1')).toBeLessThan(text.indexOf('answer /2'));
    expect(text.indexOf('answer /2')).toBeLessThan(text.indexOf('answer /3'));
    await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight 0');
  });

  it('forwards a head with many header lines intact', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const headers: Record<string, string> = {};
    for (let i = 0; i < 60; i++) headers[`X-Many-${i}`] = `value-${i}`;
    headers.Cookie = 'demo.sid=late';
    expect((await get(port, '/many', headers)).body).toBe('web@0');
    const seen = w.seen[0]?.headers ?? {};
    for (let i = 0; i < 60; i++) expect(seen[`x-many-${i}`]).toBe(`value-${i}`);
    expect(seen.cookie).toBe('demo.sid=late');
    expect(w.seen[0]?.url).toBe('/many');
  });

  it('lets a client wait for 100 Continue before sending its body', async () => {
    await using w = await startUpstream('web@0', (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end(`got ${body}`));
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const reply = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, headers: { Expect: '100-continue', 'Content-Length': 5 } });
      req.on('continue', () => req.end('hello'));
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${text}`));
      });
      req.on('error', reject);
    });
    expect(reply).toBe('200 got hello');
  });

  it('answers 400 to an HTTP/1.1 request without Host', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(port, 'GET / HTTP/1.1\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(w.seen).toHaveLength(0);
  });

  it('closes an idle client keep-alive connection after keepAliveTimeoutMs', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream), { keepAliveTimeoutMs: 150, connectionsCheckingIntervalMs: 50 });
    const { port } = testProxy;
    const started = Date.now();
    const { text } = await readUntil(port, (s) => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), () => false);
    expect(text).toMatch(/web@0$/);
    // readUntil resolves when the proxy closes the connection: not before the limit.
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('tells clients its keep-alive timeout and closes a second later, so a client that keeps to it never races the close', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream), { keepAliveTimeoutMs: 1000, connectionsCheckingIntervalMs: 50 });
    const started = Date.now();
    const { text } = await readUntil(testProxy.port, (s) => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), () => false);
    // Node's http.Agent (and others) drop an idle connection at the announced timeout…
    expect(text).toMatch(/\r\nKeep-Alive: timeout=1\r\n\r\n/);
    // …and the proxy closes it only a second after that (as Node's own http server does).
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
  });

  it('announces no keep-alive timeout with Connection: close, nor one below a second', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream), { keepAliveTimeoutMs: 150 });
    const keptAlive = await rawExchange(testProxy.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(keptAlive).not.toMatch(/keep-alive:/i);
    await using longer = await startProxy(makeRoute(w.upstream), { keepAliveTimeoutMs: 5000 });
    const closing = await rawExchange(longer.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(closing).toMatch(/\r\nConnection: close\r\n/);
    expect(closing).not.toMatch(/keep-alive:/i);
  });

  it('does not reuse a pooled worker connection idle longer than upstreamKeepAliveMs', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    // The worker keeps connections a minute: whoever closes the idle one is the proxy.
    w.server.keepAliveTimeout = 60_000;
    let closed = 0;
    w.server.on('connection', (socket) => socket.on('close', () => closed++));
    await using testProxy = await startProxy(makeRoute(w.upstream), { upstreamKeepAliveMs: 100, connectionsCheckingIntervalMs: 50 });
    const { port } = testProxy;
    await get(port, '/a');
    await get(port, '/b');
    expect(w.connections).toBe(1);
    await waitFor(() => closed === 1, 'the proxy closing the idle worker connection');
    await get(port, '/c');
    expect(w.connections).toBe(2);
  });

});
