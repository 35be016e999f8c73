import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { answerWith, asyncResource, disposeAll, get, makeRoute, rawExchange, startProxy, startUpstream, waitFor } from './helpers';

/**
 * Bad input and upstream faults of issue 5 not covered elsewhere: malformed, duplicated and
 * oversized cookies; an upstream that resets mid-upload. Run against both engines.
 * Every proxy fails its test when it is disposed if it reported an error (a crash path).
 */
/** web@0 is the target (new sessions), web@1 owns session "abc" (like a detached worker). */
async function twoWorkers(options: Parameters<typeof startProxy>[1] = {}) {
  const w0 = await startUpstream('web@0', answerWith('web@0'));
  const w1 = await startUpstream('web@1', answerWith('web@1'));
  const route = makeRoute(w0.upstream);
  route.sessions.bind('abc', w1.upstream, 60_000);
  const proxy = await startProxy(route, options);
  return asyncResource({ w0, w1, port: proxy.port, route }, () => disposeAll(w0, w1, proxy));
}

const rawGet = (port: number, headerLines: string) => rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${headerLines}Connection: close\r\n\r\n`);
const bodyOf = (answer: string) => answer.slice(answer.indexOf('\r\n\r\n') + 4);

describe('malformed cookies: routed by the one well-formed session cookie, or to the target; never an error', () => {
  const cases: Array<[string, string, 'web@0' | 'web@1']> = [
    ['a cookie without "="', 'demo.sid', 'web@0'],
    ['an empty name', '=abc', 'web@0'],
    ['an empty value', 'demo.sid=', 'web@0'],
    ['only separators', ';;; ; =;', 'web@0'],
    ['a name that only ends like ours', 'xdemo.sid=abc', 'web@0'],
    ['a name in other case', 'DEMO.SID=abc', 'web@0'],
    ['a quoted value', 'demo.sid="abc"', 'web@1'],
    ['an unterminated quote', 'demo.sid="abc', 'web@0'],
    ['spaces before the name and after the value', '  demo.sid= abc ;', 'web@1'],
    // Not an RFC 6265 cookie-pair (no browser sends it): not recognised, so new-session routing.
    ['a space between name and "="', 'demo.sid =abc', 'web@0'],
    ['ours among junk', 'a; =; b=; demo.sid=abc; c', 'web@1'],
    ['an unknown id', 'demo.sid=nobody-knows-me', 'web@0'],
    ['a 4 KB id', `demo.sid=${'z'.repeat(4096)}`, 'web@0'],
    ['non-ASCII bytes (latin1)', 'demo.sid=\u00e9\u00ff\u00a0', 'web@0'],
  ];
  for (const [name, cookie, expected] of cases) {
    it(`${name}: ${expected}`, async () => {
      await using workers = await twoWorkers();
      const { w0, w1, port } = workers;
      const answer = await rawGet(port, `Cookie: ${cookie}\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(bodyOf(answer)).toBe(expected);
      expect(w0.seen.length + w1.seen.length).toBe(1);
      expect((await get(port, '/', { Cookie: 'demo.sid=abc' })).body).toBe('web@1');
    });
  }

  it('a control character in the cookie: 400, never forwarded', async () => {
    await using workers = await twoWorkers();
    const { w0, w1, port } = workers;
    const answer = await rawGet(port, 'Cookie: demo.sid=ab\x01c\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(w0.seen.length + w1.seen.length).toBe(0);
    expect((await get(port, '/', { Cookie: 'demo.sid=abc' })).body).toBe('web@1');
  });
});

describe('duplicated cookies: the first one wins (as PHP, Express and Tomcat read them), consistently', () => {
  const cases: Array<[string, string, 'web@0' | 'web@1']> = [
    ['twice the same', 'Cookie: demo.sid=abc; demo.sid=abc\r\n', 'web@1'],
    ['known first, unknown second', 'Cookie: demo.sid=abc; demo.sid=other\r\n', 'web@1'],
    ['unknown first, known second', 'Cookie: demo.sid=other; demo.sid=abc\r\n', 'web@0'],
    // The first is empty: no session, as the app will see it (the route cookie's Route.sessionCookieDuplicates can say 'last').
    ['empty first, known second', 'Cookie: demo.sid=; demo.sid=abc\r\n', 'web@0'],
    ['two Cookie header lines, known first', 'Cookie: a=1\r\nCookie: demo.sid=abc\r\n', 'web@1'],
    ['two Cookie header lines, unknown first', 'Cookie: demo.sid=other\r\nCookie: demo.sid=abc\r\n', 'web@0'],
  ];
  for (const [name, lines, expected] of cases) {
    it(`${name}: ${expected}`, async () => {
      await using workers = await twoWorkers();
      const { w0, w1, port } = workers;
      const answer = await rawGet(port, lines);
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(bodyOf(answer)).toBe(expected);
      expect(w0.seen.length + w1.seen.length).toBe(1);
    });
  }

  it('a thousand cookies with ours last (under the header limit): still routed right', async () => {
    await using workers = await twoWorkers();
    const { port } = workers;
    const many = Array.from({ length: 1000 }, (_, i) => `c${i}=v`).join('; ');
    expect((await get(port, '/', { Cookie: `${many}; demo.sid=abc` })).body).toBe('web@1');
  });
});

describe('oversized cookies', () => {
  it('a cookie header over the head limit: 431, never forwarded, the next request works', async () => {
    await using workers = await twoWorkers({ maxHeaderSize: 8192 });
    const { w0, w1, port } = workers;
    const answer = await rawGet(port, `Cookie: demo.sid=abc; big=${'b'.repeat(10_000)}\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(w0.seen.length + w1.seen.length).toBe(0);
    expect((await get(port, '/', { Cookie: 'demo.sid=abc' })).body).toBe('web@1');
  });

  it('many Cookie lines adding up over the limit: 431 as well', async () => {
    await using workers = await twoWorkers({ maxHeaderSize: 8192 });
    const { w0, w1, port } = workers;
    const lines = Array.from({ length: 40 }, (_, i) => `Cookie: k${i}=${'v'.repeat(300)}\r\n`).join('');
    const answer = await rawGet(port, lines);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(w0.seen.length + w1.seen.length).toBe(0);
    expect((await get(port, '/')).body).toBe('web@0');
  });
});

describe('an upstream that resets mid-upload', () => {
  it('the client gets a 502 or a closed connection, the proxy stays up, the next request works', async () => {
    let received = 0;
    await using w0 = await startUpstream('web@0', (req) => {
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        // After the first 64 KB: the worker dies with the upload half read.
        if (received >= 64 * 1024) req.socket.resetAndDestroy();
      });
    });
    await using w1 = await startUpstream('web@1', answerWith('web@1'));
    const route = makeRoute(w1.upstream);
    route.sessions.bind('up', w0.upstream, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;

    const outcome = await new Promise<string>((resolve) => {
      const req = http.request(
        { host: '127.0.0.1', port, method: 'POST', path: '/upload', agent: false, headers: { Cookie: 'demo.sid=up', 'Content-Length': 10 * 1024 * 1024 } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(`status ${res.statusCode}`));
          res.on('error', () => resolve(`status ${res.statusCode}, then closed`));
        },
      );
      req.on('error', (e) => resolve(`closed (${(e as NodeJS.ErrnoException).code ?? e.message})`));
      const chunk = Buffer.alloc(64 * 1024, 'u');
      let sent = 0;
      const pump = (): void => {
        while (sent < 10 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(outcome).toMatch(/^(status 502|closed)/);
    expect(received).toBeGreaterThanOrEqual(64 * 1024);
    expect(w1.seen).toHaveLength(0); // a POST is never retried elsewhere
    await waitFor(() => w0.upstream.lease.inFlight === 0, 'inFlight back to 0');
    expect(testProxy.errors).toEqual([]);
    // Still serving, both new visitors and the session (re-routed when its owner is gone).
    expect((await get(port, '/')).body).toBe('web@1');
    console.log(`[figures] upstream reset mid-upload: ${JSON.stringify({ outcome, bytesAtWorker: received })}`);
  });
});

describe('slow clients are cut by timeouts without hurting others', () => {
  it('a slowloris head and a stalled body are cut (408 or close) while 20 normal requests are served', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream), {
      headersTimeoutMs: 300,
      requestTimeoutMs: 600,
      connectionsCheckingIntervalMs: 50,
    });
    const { port } = testProxy;
    const began = Date.now();
    const slowHead = rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ').then((a) => ({ answer: a, ms: Date.now() - began }));
    const slowBody = rawExchange(port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly ten b').then((a) => ({
      answer: a,
      ms: Date.now() - began,
    }));
    // Meanwhile, everybody else is served.
    const normal = await Promise.all(Array.from({ length: 20 }, () => get(port, '/')));
    expect(normal.map((r) => r.status)).toEqual(Array(20).fill(200));
    const head = await slowHead;
    const body = await slowBody;
    expect(head.answer).toMatch(/^HTTP\/1\.1 408 /);
    // The stalled body was already streaming to the worker: it gets a 408 if nothing was answered yet, or the connection is closed.
    expect(body.answer === '' || /^HTTP\/1\.1 408 /.test(body.answer)).toBe(true);
    await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight back to 0', 5000);
    expect((await get(port, '/')).body).toBe('web@0');
    console.log(
      `[figures] slow clients: ${JSON.stringify({ normalRequests: 20, normalErrors: 0, slowHeadCutMs: head.ms, slowBodyCutMs: body.ms, slowBodyAnswer: body.answer.split('\r\n')[0] || 'closed' })}`,
    );
  });
});

describe('invalid URLs', () => {
  // What the proxy answers today (both engines), and what the worker sees. Escapes are the
  // application's business: passed through byte for byte, never decoded or "fixed".
  const cases: Array<[string, string, number, string | null]> = [
    ['a bad percent escape', 'GET /%zz', 200, '/%zz'],
    ['an encoded NUL', 'GET /%00', 200, '/%00'],
    ['a bad escape in the query', 'GET /a?b=%', 200, '/a?b=%'],
    ['a double slash', 'GET //double', 200, '//double'],
    ['a relative path', 'GET ../../etc/passwd', 400, null],
    ['raw non-ASCII bytes', 'GET /\u00e9', 400, null],
    ['a 20 KB URL', `GET /${'a'.repeat(20_000)}`, 431, null],
    // Absolute form (RFC 9112 §3.2.2) reaches the worker in origin form; its authority becomes Host.
    ['the absolute form', 'GET http://evil.example/x?y=1', 200, '/x?y=1'],
    ['the absolute form without a path', 'GET HTTP://evil.example', 200, '/'],
    ['the absolute form with a query only', 'GET https://evil.example?q', 200, '/?q'],
    ['the absolute form with user info', 'GET http://user:pw@evil.example/x', 400, null],
    ['the absolute form of another scheme', 'GET ftp://evil.example/x', 400, null],
    ['the absolute form without an authority', 'GET http:///x', 400, null],
    ['asterisk form with OPTIONS', 'OPTIONS *', 200, '*'],
    ['asterisk form with GET', 'GET *', 400, null],
  ];
  it('the absolute form: the target authority replaces the Host the client sent', async () => {
    await using w = await startUpstream('web@0', (req, res) => {
      req.resume();
      res.end('ok');
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(port, 'GET http://app.example:8080/x HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n');
    expect(answer.startsWith('HTTP/1.1 200 ')).toBe(true);
    const seen = w.seen[0]!;
    expect(seen.url).toBe('/x');
    expect(seen.rawHeaders.filter((_, i) => i % 2 === 0 && /^host$/i.test(seen.rawHeaders[i]!))).toHaveLength(1);
    expect(seen.headers.host).toBe('app.example:8080');
    expect(seen.headers['x-forwarded-host']).toBe('app.example:8080');
  });

  it('the absolute form of /healthz is answered by the proxy itself', async () => {
    await using w = await startUpstream('web@0', (_req, res) => res.end('app'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(port, 'GET http://x/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200 [^]*\r\n\r\nok\n$/);
    expect(w.seen).toEqual([]);
  });

  for (const [name, line, status, seen] of cases) {
    it(`${name}: ${status}`, async () => {
      await using w = await startUpstream('web@0', (req, res) => {
        req.resume();
        res.end('ok');
      });
      await using testProxy = await startProxy(makeRoute(w.upstream));
      const { port } = testProxy;
      const answer = await rawExchange(port, `${line} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(answer.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
      expect(w.seen.map((r) => r.url)).toEqual(seen === null ? [] : [seen]);
      expect((await get(port, '/')).status).toBe(200);
    });
  }
});
