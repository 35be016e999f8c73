/**
 * Raw-byte reproductions of what an attacker tried against the proxy (issue "The proxy holds
 * against hostile traffic"): each failed on the engine before its fix.
 */
import net, { type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { answerWith, asyncResource, get, makeRoute, rawExchange, readUntil, startProxy, startUpstream, waitFor } from './helpers';
import { Lease } from '@handover/process-table';

/** A worker on a raw socket: records every byte and answers with `respond` per chunk it gets. */
async function startRawWorker(respond: (socket: net.Socket, received: string) => void) {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      received.push(chunk);
      respond(socket, text);
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return asyncResource(
    {
      upstream: { id: 'web@0', host: '127.0.0.1', port, routable: true, draining: false, lease: new Lease() },
      received,
      bytes: () => received.join(''),
    },
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
}

describe('a Connection header cannot change framing (request smuggling)', () => {
  const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
  const cases: Record<string, string> = {
    'content-length': `POST /notes HTTP/1.1\r\nHost: x\r\nConnection: content-length\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    'Content-Length among other tokens': `POST /notes HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Foo, Content-Length\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    'transfer-encoding': `POST /notes HTTP/1.1\r\nHost: x\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
  };
  for (const [name, bytes] of Object.entries(cases)) {
    it(`Connection: ${name} — the worker gets one request with its whole body`, async () => {
      await using w = await startUpstream('web@0', answerWith('web@0'));
      await using testProxy = await startProxy(makeRoute(w.upstream));
      const { port } = testProxy;
      const { text, socket } = await readUntil(port, (s) => s.write(bytes), (t) => t.includes('web@0'));
      socket.destroy();
      expect(text).toMatch(/^HTTP\/1\.1 200 /);
      await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight back to 0');
      expect(w.seen.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /notes']);
    });
  }

  it('Connection: host cannot remove the Host the worker routes by', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    await rawExchange(port, 'GET / HTTP/1.1\r\nHost: app.example\r\nConnection: host, close\r\n\r\n');
    expect(w.seen[0]?.headers.host).toBe('app.example');
  });

  it("a worker's Connection: content-length cannot unframe its response", async () => {
    let answered = 0;
    await using w = await startRawWorker((socket, text) => {
      const requests = text.split('\r\n\r\n').length - 1;
      while (answered < requests) {
        answered++;
        socket.write(`HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 5\r\n\r\nhello`);
      }
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const { text, socket } = await readUntil(
      port,
      (s) => s.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n'),
      (t) => (t.match(/hello/g) ?? []).length === 2,
    );
    socket.destroy();
    expect(text.match(/Content-Length: 5\r\n/gi)).toHaveLength(2);
  });
});

describe('a worker that answers before the request body ends', () => {
  for (const closeAfter of [false, true]) {
    it(`(${closeAfter ? 'Connection: close' : 'keep-alive'}) costs nothing but that exchange`, async () => {
      await using w = await startUpstream('web@0', (req, res) => {
        if (req.url === '/upload') {
          res.writeHead(401, { 'Content-Length': '6', ...(closeAfter ? { Connection: 'close' } : {}) });
          res.end('denied');
          return;
        }
        answerWith('web@0')(req, res);
      });
      await using testProxy = await startProxy(makeRoute(w.upstream));
      const { port } = testProxy;
      const { text, socket } = await readUntil(
        port,
        (s) => s.write('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'),
        (t) => t.includes('denied'),
      );
      expect(text).toMatch(/^HTTP\/1\.1 401 /);
      // The rest of the upload comes after the answer.
      await new Promise<void>((resolve) => {
        socket.write('5\r\nworld\r\n0\r\n\r\n', () => resolve());
      });
      socket.destroy();
      await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight back to 0');
      expect((await get(port, '/')).body).toBe('web@0');
    });
  }

  it('after an early answer with keep-alive the client connection serves the next request', async () => {
    await using w = await startUpstream('web@0', (req, res) => {
      if (req.url === '/upload') {
        res.writeHead(413, { 'Content-Length': '8' });
        res.end('too big!');
        return;
      }
      answerWith('web@0')(req, res);
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const { text, socket } = await readUntil(
      port,
      async (s) => {
        s.write('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      },
      (t) => t.includes('too big!'),
    );
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    const next = await new Promise<string>((resolve) => {
      let out = '';
      socket.on('data', (c: string) => {
        out += c;
        if (out.includes('web@0')) resolve(out);
      });
      socket.on('close', () => resolve(out));
      socket.write('0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    socket.destroy();
    expect(next).toMatch(/^HTTP\/1\.1 200 /);
    expect(w.seen.map((r) => r.url)).toContain('/next');
  });
});

describe('trailers never become headers of the next message', () => {
  it("a worker's response trailer does not reach the next response on the pooled connection", async () => {
    let answered = 0;
    await using w = await startRawWorker((socket, text) => {
      const requests = text.split('\r\n\r\n').length - 1;
      while (answered < requests) {
        answered++;
        if (answered === 1) {
          socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Secret\r\n\r\n2\r\nok\r\n0\r\nX-Secret: alice-token\r\n\r\n');
        } else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const first = await get(port, '/alice');
    expect(first.status).toBe(200);
    const second = await get(port, '/bob');
    expect(second.status).toBe(200);
    expect(second.headers['x-secret']).toBeUndefined();
    // One worker connection carried both (the trailer had a chance to leak).
    expect(w.bytes().match(/GET \//g)).toHaveLength(2);
  });

  it("a client's request trailer does not become a header of its next request", async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const { socket } = await readUntil(
      port,
      (s) =>
        s.write(
          'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Injected: yes\r\n\r\n' +
            'GET /b HTTP/1.1\r\nHost: x\r\n\r\n',
        ),
      (t) => (t.match(/web@0/g) ?? []).length === 2,
    );
    socket.destroy();
    expect(w.seen.map((r) => r.url)).toEqual(['/a', '/b']);
    expect(w.seen[1]?.headers['x-injected']).toBeUndefined();
  });
});

describe('forwarding headers from clients are not believed', () => {
  const forged = {
    Host: 'app.example',
    Forwarded: 'for=6.6.6.6;host=evil.example;proto=https',
    'X-Real-IP': '6.6.6.6',
    'X-Forwarded-For': '6.6.6.6',
    'X-Forwarded-Host': 'evil.example',
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Prefix': '/admin',
  };

  it('replaced by the proxy’s own values', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    await get(port, '/', forged);
    const h = w.seen[0]?.headers ?? {};
    expect(h.forwarded).toBeUndefined();
    expect(h['x-real-ip']).toBeUndefined();
    expect(h['x-forwarded-port']).toBeUndefined();
    expect(h['x-forwarded-prefix']).toBeUndefined();
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-host']).toBe('app.example');
    expect(h['x-forwarded-proto']).toBe('http');
  });

  it('kept (and X-Forwarded-For appended to) behind a trusted front proxy', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream), { trustForwardedHeaders: true });
    const { port } = testProxy;
    await get(port, '/', forged);
    const h = w.seen[0]?.headers ?? {};
    expect(h.forwarded).toBe(forged.Forwarded);
    expect(h['x-real-ip']).toBe('6.6.6.6');
    expect(h['x-forwarded-port']).toBe('443');
    expect(h['x-forwarded-for']).toBe('6.6.6.6, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('https');
  });
});

describe('only Upgrade: websocket is tunnelled', () => {
  it('Upgrade: h2c is answered as a plain HTTP/1.1 request, never tunnelled', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(
      port,
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n' +
        'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('web@0');
    expect(answer).not.toMatch(/ 101 /);
    expect(w.seen).toHaveLength(1);
    expect(w.seen[0]?.headers.upgrade).toBeUndefined();
    expect(w.seen[0]?.headers['http2-settings']).toBeUndefined();
    await waitFor(() => w.upstream.lease.inFlight === 0 && w.upstream.lease.webSockets === 0, 'counts back to 0');
  });

  it('a worker that answers 101 to a plain request gets the client a 502, not a tunnel', async () => {
    await using w = await startRawWorker((socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nRAW-BYTES');
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 502 /);
    expect(answer).not.toContain('RAW-BYTES');
    await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight back to 0');
  });

  it('CONNECT gets 405 and the connection is closed', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 405 /);
    expect(w.seen).toHaveLength(0);
  });
});

describe('found by the differential fuzzer', () => {
  it("HEAD /healthz: the proxy's own answer has no body (it was read as the next response)", async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const { text, socket } = await readUntil(
      port,
      (s) => s.write('HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      (t) => t.includes('web@0'),
    );
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: 3\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  });

  it('a transfer coding before chunked (gzip, chunked) is refused with 501, never forwarded as plain chunked', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, identity, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 501 /);
    expect(w.seen).toHaveLength(0);
  });
});

describe('a refused request among pipelined ones (found by the fuzzer)', () => {
  it('the requests before it are answered in order, then its 400, then the close', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(port, 'HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET\t/bad HTTP/1.1\r\nHost: x\r\n\r\n');
    const statuses = answer.match(/HTTP\/1\.1 \d{3}/g);
    expect(statuses).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 400']);
    expect(answer).toMatch(/web@0HTTP\/1\.1 400 Bad Request\r\n/);
    expect(w.seen.map((r) => r.url)).toEqual(['/a', '/b']);
  });

  it('bytes after a Connection: close request are never read: its answer, then the close', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(port, 'GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET\t/bad HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200']);
    expect(w.seen.map((r) => r.url)).toEqual(['/a']);
  });
});

describe('methods and upgrades with bodies (found by the fuzzer)', () => {
  it('QUERY reaches the worker as QUERY (it went as GET: llhttp and node index methods differently)', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(port, 'QUERY /search HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nq=abc');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(w.seen.map((r) => r.method)).toEqual(['QUERY']);
  });

  it('a non-WebSocket Upgrade with a body: the whole body reaches the worker, no tunnel', async () => {
    let body = '';
    await using w = await startUpstream('web@0', (req, res) => {
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end('web@0'));
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nUpgrade: TLS/1.2\r\nConnection: Upgrade\r\nContent-Length: 11\r\n\r\nhello world');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(body).toBe('hello world');
  });

  it('a WebSocket handshake with a body is refused (400)', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(
      port,
      'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 4\r\n\r\nbody',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(w.seen).toHaveLength(0);
  });
});

it('a non-WebSocket Upgrade with a chunked body arriving in pieces: the body is not cut at the first read (found by the fuzzer)', async () => {
  let body = '';
  await using w = await startUpstream('web@0', (req, res) => {
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => res.end('web@0'));
  });
  await using testProxy2 = await startProxy(makeRoute(w.upstream));
  const { port } = testProxy2;
  const { text, socket } = await readUntil(
    port,
    (s) => {
      s.write('POST / HTTP/1.1\r\nHost: x\r\nUpgrade: TLS/1.2\r\nConnection: keep-alive, upgrade\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      // The rest only once the worker has the first piece.
      void waitFor(() => body === 'hello', 'the first piece at the worker').then(() => s.write('6\r\n world\r\n0\r\n\r\n'));
    },
    (t) => t.includes('web@0'),
  );
  socket.destroy();
  expect(text).toMatch(/^HTTP\/1\.1 200 /);
  expect(body).toBe('hello world');
});

it('a refused request followed by a large upload: the upload is read and dropped, the answer read without a reset (lingering close, RFC 9112 §9.6)', async () => {
  await using w = await startUpstream('web@0', answerWith('web@0'));
  await using testProxy3 = await startProxy(makeRoute(w.upstream), { maxHeaderSize: 4096 });
  const { port } = testProxy3;
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.pause();
      socket.write(`PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 64000000\r\nX-Big: ${'b'.repeat(8000)}\r\n\r\n`);
      // Like a client that reads its answer once its upload is written: the proxy must keep
      // reading (and dropping) it, or the close resets the connection and the answer is lost.
      socket.write(Buffer.alloc(64_000_000, 97), (error) => {
        if (error !== undefined && error !== null) text += '<write failed>';
        socket.end();
        socket.resume();
      });
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => resolve(`${text}<reset>`));
    socket.on('close', () => resolve(text));
  });
  expect(answer).toMatch(/^HTTP\/1\.1 431 /);
  expect(answer).not.toMatch(/<write failed>|<reset>/);
  expect(w.seen).toHaveLength(0);
});

it('an HTTP/1.0 answer framed by the close is not cut short by more bytes from the client (found by the fuzzer)', async () => {
  const big = 'x'.repeat(80_000);
  let sentMore: () => void = () => {};
  const more = new Promise<void>((resolve) => (sentMore = resolve));
  await using w = await startUpstream('web@0', (_req, res) => {
    // No length: chunked to the proxy, which sends it to the HTTP/1.0 client framed by the close;
    // the rest only after the client's extra bytes went out.
    res.write(big.slice(0, 1000));
    void more.then(() => res.end(big.slice(1000)));
  });
  await using testProxy4 = await startProxy(makeRoute(w.upstream));
  const { port } = testProxy4;
  const text = await new Promise<string>((resolve) => {
    let out = '';
    let first = true;
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /big HTTP/1.0\r\nHost: x\r\n\r\n'));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      out += chunk;
      // Once the answer has started, the client sends more (another request).
      if (first) socket.write('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n', () => sentMore());
      first = false;
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(out));
  });
  expect(text.slice(text.indexOf('\r\n\r\n') + 4)).toBe(big);
  expect(w.seen.map((r) => r.url)).toEqual(['/big']);
});
