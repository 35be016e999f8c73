import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { answerWith, get, makeRoute, rawExchange, startProxy, startUpstream } from './helpers';

const cases: Record<string, string> = {
  'Content-Length with Transfer-Encoding': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'duplicate Content-Length': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd',
  'conflicting Content-Length': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd',
  'obs-fold': 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n',
  'bare LF line endings': 'GET / HTTP/1.1\nHost: x\n\n',
  'bare LF inside the head': 'GET / HTTP/1.1\r\nHost: x\nX-B: 1\r\n\r\n',
  'control char in a header value': 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n',
  'space in a header name': 'GET / HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n',
  'space in the request target': 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n',
  'garbage': '\x00\x01\x02 not http at all\r\n\r\n',
};

/** Heads Node accepts, with the error in the body: the worker may get a connection, never a request. */
const bodyCases: Record<string, string> = {
  'unknown transfer coding': 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n',
  'smuggled second request after a bad chunk':
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
};

describe('malformed requests', () => {
  for (const [name, bytes] of Object.entries(cases)) {
    it(`rejects ${name} with 400 and never forwards it`, async () => {
      await using w = await startUpstream('web@0', answerWith('web@0'));
      await using testProxy = await startProxy(makeRoute(w.upstream));
      const { port } = testProxy;
      const answer = await rawExchange(port, bytes);
      expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(answer).toMatch(/Connection: close/);
      expect(w.seen).toHaveLength(0);
      expect(w.connections).toBe(0);
      // still serving
      expect((await get(port, '/')).body).toBe('web@0');
    });
  }

  for (const [name, bytes] of Object.entries(bodyCases)) {
    it(`rejects ${name} with 400 and no request reaches the worker`, async () => {
      await using w = await startUpstream('web@0', answerWith('web@0'));
      await using testProxy = await startProxy(makeRoute(w.upstream));
      const { port } = testProxy;
      const answer = await rawExchange(port, bytes);
      expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(answer).not.toMatch(/web@0/);
      expect((await get(port, '/')).body).toBe('web@0');
      expect(w.seen.map((r) => r.url)).toEqual(['/']);
      expect(w.upstream.lease.inFlight).toBe(0);
    });
  }

  it('answers 431 to an oversized head and never forwards it', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream), { maxHeaderSize: 8192 });
    const { port } = testProxy;
    const answer = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(w.seen).toHaveLength(0);
    expect((await get(port, '/')).body).toBe('web@0');
  });

  it('answers 408 and closes a connection that never finishes its head (slowloris)', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream), {
      headersTimeoutMs: 200,
      requestTimeoutMs: 400,
      connectionsCheckingIntervalMs: 50,
    });
    const { port } = testProxy;
    const answer = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(w.seen).toHaveLength(0);
  });

  it('survives a client that resets mid-head', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-');
        socket.resetAndDestroy();
      });
      socket.on('close', () => resolve());
      socket.on('error', () => {});
    });
    expect((await get(port, '/')).body).toBe('web@0');
    expect(w.seen).toHaveLength(1);
  });
});
