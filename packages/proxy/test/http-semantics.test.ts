import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { answerWith, deadUpstream, disposer, get, makeRoute, startProxy, startUpstream, waitFor } from './helpers';

const MB = 1024 * 1024;

function pattern(i: number): Buffer {
  return Buffer.alloc(MB, i % 251);
}

describe('keep-alive', () => {
  it('reuses connections on both sides', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { proxy, port } = testProxy;
    let clientConnections = 0;
    proxy.server.on('connection', () => clientConnections++);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await using _agent = disposer(() => agent.destroy());
    for (let i = 0; i < 20; i++) {
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: `/${i}`, agent }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      expect(body).toBe('web@0');
    }
    expect(w.seen).toHaveLength(20);
    expect(clientConnections).toBe(1);
    expect(w.connections).toBe(1);
  });
});

describe('streaming bodies', () => {
  it('streams a 50 MB upload without buffering it', async () => {
    let received = 0;
    const hash = createHash('sha256');
    await using w = await startUpstream('web@0', (req, res) => {
      req.on('data', (c: Buffer) => {
        received += c.length;
        hash.update(c);
      });
      req.on('end', () => res.end(`${received} ${hash.digest('hex')}`));
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const expected = createHash('sha256');
    const reply = new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/upload', agent: false, headers: { 'Content-Length': 50 * MB } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      (async () => {
        req.write(pattern(0));
        expected.update(pattern(0));
        // The worker has bytes before the client has sent the rest: nothing waits for the whole body.
        await waitFor(() => received > 0, 'first upload bytes at the worker');
        for (let i = 1; i < 50; i++) {
          const chunk = pattern(i);
          expected.update(chunk);
          if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve));
        }
        req.end();
      })().catch(reject);
    });
    expect(await reply).toBe(`${50 * MB} ${expected.digest('hex')}`);
  });

  it('streams a 50 MB chunked download without buffering it', async () => {
    let clientGot = 0;
    const sent = createHash('sha256');
    await using w = await startUpstream('web@0', (_req, res) => {
      (async () => {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.write(pattern(0));
        sent.update(pattern(0));
        await waitFor(() => clientGot > 0, 'first download bytes at the client');
        for (let i = 1; i < 50; i++) {
          const chunk = pattern(i);
          sent.update(chunk);
          if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
        }
        res.end();
      })().catch((e) => res.destroy(e));
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const got = createHash('sha256');
    const headers = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/download', agent: false }, (res) => {
          res.on('data', (c: Buffer) => {
            clientGot += c.length;
            got.update(c);
          });
          res.on('end', () => resolve(res.headers));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    expect(headers['transfer-encoding']).toBe('chunked');
    expect(clientGot).toBe(50 * MB);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
  });

  it('forwards a chunked request body as chunked', async () => {
    await using w = await startUpstream('web@0', (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end(`${req.headers['transfer-encoding']}:${req.headers['content-length']}:${body}`));
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const reply = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.write('part1-');
      req.end('part2');
    });
    expect(reply).toBe('chunked:undefined:part1-part2');
  });

  it('sends an empty POST with Content-Length: 0, not chunked', async () => {
    await using w = await startUpstream('web@0', (req, res) => res.end(`${req.headers['content-length']}|${req.headers['transfer-encoding']}`));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const reply = await rawOnce(port, 'POST /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/\r\n\r\n0\|undefined$/);
  });

  it('delivers server-sent events as they are written', async () => {
    let clientEvents = 0;
    await using w = await startUpstream('web@0', (_req, res) => {
      (async () => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
        for (let i = 1; i <= 3; i++) {
          res.write(`data: event ${i}\n\n`);
          // The next event is only written once the client has seen this one.
          await waitFor(() => clientEvents >= i, `event ${i} at the client`);
        }
        res.end();
      })().catch((e) => res.destroy(e));
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const text = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/events', agent: false }, (res) => {
          let all = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            all += c;
            clientEvents = all.split('\n\n').length - 1;
          });
          res.on('end', () => resolve(all));
        })
        .on('error', reject);
    });
    expect(text).toBe('data: event 1\n\ndata: event 2\n\ndata: event 3\n\n');
  });

  it('passes HEAD, 204 and 304 answers through without bodies', async () => {
    await using w = await startUpstream('web@0', (req, res) => {
      if (req.url === '/204') res.writeHead(204).end();
      else if (req.url === '/304') res.writeHead(304, { ETag: '"x"' }).end();
      else res.writeHead(200, { 'Content-Length': 5 }).end(req.method === 'HEAD' ? undefined : 'hello');
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const head = await get(port, '/', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('5');
    expect(head.body).toBe('');
    expect((await get(port, '/204')).status).toBe(204);
    const notModified = await get(port, '/304');
    expect(notModified.status).toBe(304);
    expect(notModified.headers.etag).toBe('"x"');
  });
});

/** One raw request/response over a socket the server closes (Connection: close). */
function rawOnce(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (out += c));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

describe('forwarding headers', () => {
  it('sets X-Forwarded-For/-Proto/-Host, replacing forged ones (no trusted proxy in front)', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    await get(port, '/', { 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https', Host: 'app.example:8080' });
    const h = w.seen[0]?.headers;
    expect(h?.['x-forwarded-for']).toBe('127.0.0.1');
    expect(h?.['x-forwarded-proto']).toBe('http');
    expect(h?.['x-forwarded-host']).toBe('app.example:8080');
    expect(h?.host).toBe('app.example:8080');
    await get(port, '/');
    expect(w.seen[1]?.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('keeps forwarded headers from a trusted front proxy when configured', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream), { trustForwardedHeaders: true });
    const { port } = testProxy;
    await get(port, '/', { 'X-Forwarded-Host': 'public.example', 'X-Forwarded-Proto': 'https' });
    expect(w.seen[0]?.headers['x-forwarded-host']).toBe('public.example');
    expect(w.seen[0]?.headers['x-forwarded-proto']).toBe('https');
  });

  it('removes hop-by-hop request headers, including those named in Connection', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const reply = await rawOnce(
      port,
      'GET /hop HTTP/1.1\r\nHost: h\r\nConnection: close, X-Private\r\nX-Private: secret\r\nKeep-Alive: timeout=9\r\n' +
        'Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-Public: yes\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    const names = (w.seen[0]?.rawHeaders ?? []).filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const gone of ['x-private', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']) expect(names).not.toContain(gone);
    expect(names).toContain('x-public');
    // The proxy's own connection to the worker is keep-alive, whatever the client asked for.
    expect(w.seen[0]?.headers.connection).toBe('keep-alive');
  });

  it('removes hop-by-hop response headers, including those named in Connection', async () => {
    // A raw worker, to send exactly these bytes.
    const raw = net.createServer((socket) => {
      socket.once('data', () =>
        socket.end(
          'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\n' +
            'Proxy-Connection: keep-alive\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-Public: yes\r\nTransfer-Encoding: chunked\r\n\r\n' +
            '5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n',
        ),
      );
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    await using _raw = disposer(() => new Promise<void>((resolve) => raw.close(() => resolve())));
    const upstream = deadUpstream('web@0', (raw.address() as AddressInfo).port);
    await using testProxy = await startProxy(makeRoute(upstream));
    const { port } = testProxy;
    const reply = await get(port, '/');
    expect(reply.body).toBe('hello');
    const names = reply.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const gone of ['x-private', 'keep-alive', 'proxy-connection', 'trailer', 'upgrade']) expect(names).not.toContain(gone);
    expect(names).toContain('x-public');
  });
});

describe('aborts and failures', () => {
  it('destroys the upstream request when the client aborts', async () => {
    let upstreamClosed = false;
    let atWorker = false;
    await using w = await startUpstream('web@0', (_req: IncomingMessage, res: ServerResponse) => {
      atWorker = true;
      res.writeHead(200);
      res.write('partial');
      res.on('close', () => (upstreamClosed = true));
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const req = http.get({ host: '127.0.0.1', port, path: '/slow', agent: false }, (res) => {
      res.once('data', () => req.destroy());
    });
    req.on('error', () => {});
    await waitFor(() => atWorker && upstreamClosed, 'the worker to see the close');
    await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight back to 0');
  });

  it('destroys the upstream request when the client aborts mid-upload', async () => {
    let aborted = false;
    let gotData = false;
    await using w = await startUpstream('web@0', (req) => {
      req.on('data', () => (gotData = true));
      req.on('close', () => (aborted = !req.complete));
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, headers: { 'Content-Length': 1000 } });
    req.on('error', () => {});
    req.write('x'.repeat(100));
    await waitFor(() => gotData, 'first body bytes at the worker');
    req.destroy();
    await waitFor(() => aborted, 'the worker to see the aborted upload');
    await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight back to 0');
  });

  for (const framing of ['chunked', 'content-length'] as const) {
    it(`destroys the client connection when the worker dies mid-response (${framing})`, async () => {
      await using w = await startUpstream('web@0', (_req, res) => {
        res.writeHead(200, framing === 'content-length' ? { 'Content-Length': 100_000 } : {});
        res.write('x'.repeat(1000), () => setImmediate(() => res.socket?.destroy()));
      });
      await using testProxy = await startProxy(makeRoute(w.upstream));
      const { port } = testProxy;
      const outcome = await new Promise<string>((resolve) => {
        http
          .get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
            res.on('data', () => {});
            res.on('end', () => resolve(res.complete ? 'complete' : 'incomplete'));
            res.on('error', (e) => resolve(`error ${e.message}`));
            res.on('aborted', () => resolve('aborted'));
          })
          .on('error', (e) => resolve(`request error ${e.message}`));
      });
      expect(outcome).not.toBe('complete');
      await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight back to 0');
    });
  }
});
