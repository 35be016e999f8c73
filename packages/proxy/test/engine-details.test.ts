/**
 * Engine details a node:http proxy would not give: a Host-less HTTP/1.0 request served, a
 * response head sent before its body, pooled connections kept as long as the worker's hint.
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { answerWith, get, makeRoute, rawExchange, readUntil, startProxy, startUpstream, waitFor } from './helpers';

describe('engine details', () => {
  it('serves an HTTP/1.0 client without Host and closes the connection after the answer', async () => {
    await using w = await startUpstream('web@0', (_req, res) => {
      // No Content-Length: the 1.0 client reads the body until the connection closes.
      res.write('part one, ');
      res.end('part two');
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(port, 'GET /old HTTP/1.0\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).not.toMatch(/transfer-encoding/i);
    expect(answer.endsWith('\r\n\r\npart one, part two')).toBe(true);
    expect(w.seen[0]?.headers.host).toBeTruthy();
  });

  it('sends a response head before the body arrives', async () => {
    let release: (() => void) | undefined;
    await using w = await startUpstream('web@0', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 4 });
      res.flushHeaders();
      release = () => res.end('done');
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
          // Headers are here while the worker still holds the body.
          expect(res.headers['content-length']).toBe('4');
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
          release?.();
        })
        .on('error', reject);
    });
    expect(body).toBe('done');
  });

  it("keeps a pooled worker connection as long as the worker's Keep-Alive hint allows", async () => {
    // Keep-Alive: timeout=6 → idle up to 5 s, past the 4 s used without a hint (nothing set
    // explicitly). The proxy's clock (Date) is moved on instead of sleeping; sockets stay real.
    await using w = await startUpstream('web@0', answerWith('web@0'));
    w.server.keepAliveTimeout = 6_500;
    await using testProxy = await startProxy(makeRoute(w.upstream), { connectionsCheckingIntervalMs: 50 });
    const { port } = testProxy;
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      await get(port, '/a');
      vi.setSystemTime(Date.now() + 4_300); // past the unhinted 4 s, within the hinted 5 s
      await get(port, '/b');
      expect(w.connections).toBe(1);
      vi.setSystemTime(Date.now() + 5_100); // past the hinted 5 s
      await get(port, '/c');
      expect(w.connections).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("closes a pooled worker connection once the worker's shorter Keep-Alive hint runs out", async () => {
    // Keep-Alive: timeout=2 → idle up to 1 s. The worker itself would keep the connection a
    // minute, so whoever closes it within the test is the proxy.
    await using w = await startUpstream('web@0', answerWith('web@0', (_req, res) => {
      res.setHeader('Connection', 'keep-alive');
      res.setHeader('Keep-Alive', 'timeout=2');
    }));
    w.server.keepAliveTimeout = 60_000;
    const closedAt: number[] = [];
    w.server.on('connection', (socket) => socket.on('close', () => closedAt.push(Date.now())));
    await using testProxy = await startProxy(makeRoute(w.upstream), { connectionsCheckingIntervalMs: 50 });
    const { port } = testProxy;
    await get(port, '/a');
    const idleFrom = Date.now();
    await get(port, '/b');
    expect(w.connections).toBe(1);
    await waitFor(() => closedAt.length === 1, 'the proxy closing the idle worker connection');
    expect(closedAt[0]! - idleFrom).toBeGreaterThanOrEqual(1_000); // not before the hinted limit
    await get(port, '/c');
    expect(w.connections).toBe(2);
  });
});
