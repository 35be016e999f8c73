/**
 * Every phase has a timeout and every resource a limit; whatever a timeout ends gives its
 * in-flight unit back (a stuck client or worker can never hold a detached worker's drain).
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { type AsyncResource, answerWith, asyncResource, disposer, get, makeRoute, rawExchange, readUntil, startProxy, startUpstream, waitFor } from './helpers';
import { Lease } from '@handover/process-table';

const FAST = { connectionsCheckingIntervalMs: 20 };

/** A connected socket, destroyed on dispose. */
async function openSocket(port: number): Promise<AsyncResource<net.Socket>> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const connecting = net.connect(port, '127.0.0.1', () => resolve(connecting));
    connecting.on('error', reject);
  });
  return asyncResource(socket, () => void socket.destroy());
}

describe('timeouts', () => {
  it('a request body that stops coming: 408 after bodyIdleTimeoutMs, the worker released', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream), { ...FAST, bodyIdleTimeoutMs: 200 });
    const { port } = testProxy;
    const started = Date.now();
    const answer = await rawExchange(port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight back to 0');
  });

  it('a steady slow upload is not cut by the body idle timeout', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream), { ...FAST, bodyIdleTimeoutMs: 300 });
    const { port } = testProxy;
    const { text } = await readUntil(
      port,
      (socket) => {
        socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n');
        let sent = 0;
        // One byte every 100 ms: 1 s in all, more than three idle limits, never idle for one.
        const timer = setInterval(() => {
          socket.write('x');
          if (++sent === 10) clearInterval(timer);
        }, 100);
      },
      (t) => t.includes('web@0'),
    );
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('a worker that never answers: 504 after responseTimeoutMs, inFlight back to 0', async () => {
    await using w = await startUpstream('web@0', () => {});
    await using testProxy = await startProxy(makeRoute(w.upstream), { ...FAST, responseTimeoutMs: 200 });
    const { port } = testProxy;
    const answer = await rawExchange(port, 'GET /stuck HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 504 /);
    expect(w.upstream.lease.inFlight).toBe(0);
  });

  it('a worker whose body stops mid-response: the client is cut (never a short answer), inFlight back to 0', async () => {
    await using w = await startUpstream('web@0', (_req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('only part of it');
    });
    await using testProxy = await startProxy(makeRoute(w.upstream), { ...FAST, upstreamIdleTimeoutMs: 200 });
    const { port } = testProxy;
    const answer = await rawExchange(port, 'GET /half HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('only part of it');
    expect(w.upstream.lease.inFlight).toBe(0);
  });

  it('a client that stops reading a big answer is cut after sendTimeoutMs, the worker released', async () => {
    await using w = await startUpstream('web@0', (_req, res) => {
      res.writeHead(200, { 'Content-Length': String(64 * 1024 * 1024) });
      const chunk = Buffer.alloc(1024 * 1024);
      const more = () => {
        while (res.writableLength < 4 * 1024 * 1024 && !res.destroyed) if (!res.write(chunk)) break;
        if (!res.destroyed) res.once('drain', more);
      };
      more();
    });
    await using testProxy = await startProxy(makeRoute(w.upstream), { ...FAST, sendTimeoutMs: 300 });
    const { proxy, port } = testProxy;
    await using socket = await openSocket(port);
    socket.pause();
    socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => proxy.stats().stalledClients === 1, 'the proxy waiting for the client');
    // (A paused client sees the close only once it reads again: the proxy's side is what counts.)
    await waitFor(() => proxy.stats().clientConnections === 0, 'the client cut');
    await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight back to 0');
    expect(proxy.stats().timeouts).toBeGreaterThanOrEqual(1);
  });

  it('a WebSocket handshake the worker never answers: 504 after upgradeTimeoutMs', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    // Takes the upgrade and never answers it.
    const upgraded = new Set<net.Socket>();
    w.server.on('upgrade', (_req, socket: net.Socket) => upgraded.add(socket));
    await using _upgraded = disposer(() => upgraded.forEach((socket) => socket.destroy()));
    await using testProxy = await startProxy(makeRoute(w.upstream), { upgradeTimeoutMs: 200 });
    const { port } = testProxy;
    const { text, socket } = await readUntil(
      port,
      (s) =>
        s.write(
          'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        ),
      (t) => t.includes('\r\n\r\n'),
    );
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 504 /);
    await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight back to 0');
  });

  it('an idle WebSocket is closed after tunnelIdleTimeoutMs and stops counting', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await using _server = disposer(() => new Promise<void>((resolve) => (wss.close(), server.closeAllConnections(), server.close(() => resolve()))));
    const address = server.address() as net.AddressInfo;
    const upstream = { id: 'web@0', host: '127.0.0.1', port: address.port, routable: true, draining: false, lease: new Lease() };
    await using testProxy = await startProxy(makeRoute(upstream), { tunnelIdleTimeoutMs: 200 });
    const { port } = testProxy;
    const client = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise((resolve, reject) => client.on('open', resolve).on('error', reject));
    expect(upstream.lease.webSockets).toBe(1);
    await new Promise((resolve) => client.on('close', resolve));
    await waitFor(() => upstream.lease.webSockets === 0, 'webSockets back to 0');
  });
});

describe('limits', () => {
  for (const option of ['maxConnections', 'maxConnectionsPerClient'] as const) {
    it(`${option}: one more connection gets 503 and is closed; a freed slot serves again`, async () => {
      await using w = await startUpstream('web@0', answerWith('web@0'));
      await using testProxy = await startProxy(makeRoute(w.upstream), { [option]: 2 });
      const { proxy, port } = testProxy;
      await using a = await openSocket(port);
      await using _b = await openSocket(port);
      await waitFor(() => proxy.stats().clientConnections === 2, 'two connections');
      expect(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 503 /);
      a.destroy();
      await waitFor(() => proxy.stats().clientConnections === 1, 'one connection');
      expect((await get(port, '/')).body).toBe('web@0');
      expect(proxy.stats().refusedConnections).toBe(1);
    });
  }

  it('maxConnectionsPerWorker: a request that would need one more worker connection waits for one (counted in inFlight)', async () => {
    let hold: (() => void) | undefined;
    await using w = await startUpstream('web@0', (req, res) => {
      if (req.url === '/slow') hold = () => res.end('slow');
      else answerWith('web@0')(req, res);
    });
    await using testProxy = await startProxy(makeRoute(w.upstream), { maxConnectionsPerWorker: 1 });
    const { port } = testProxy;
    const slow = get(port, '/slow');
    await waitFor(() => hold !== undefined, 'the slow request at the worker');
    const queued = get(port, '/queued');
    // Waiting for the worker's only connection: a unit of inFlight, so a draining worker waits too.
    await waitFor(() => w.upstream.lease.inFlight === 2, 'the second request counted');
    expect(w.seen.map((r) => r.url)).toEqual(['/slow']);
    hold?.();
    expect((await slow).body).toBe('slow');
    expect((await queued).body).toBe('web@0');
    expect(w.connections).toBe(1);
    await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight back to 0');
  });

  it('a request that waits longer than queueTimeoutMs for a worker connection gets 503, the worker released', async () => {
    let hold: (() => void) | undefined;
    await using w = await startUpstream('web@0', (req, res) => {
      if (req.url === '/slow') hold = () => res.end('slow');
      else answerWith('web@0')(req, res);
    });
    await using testProxy = await startProxy(makeRoute(w.upstream), { ...FAST, maxConnectionsPerWorker: 1, queueTimeoutMs: 200 });
    const { port } = testProxy;
    const slow = get(port, '/slow');
    await waitFor(() => hold !== undefined, 'the slow request at the worker');
    const refused = await get(port, '/queued');
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(w.upstream.lease.inFlight).toBe(1);
    hold?.();
    expect((await slow).body).toBe('slow');
    expect((await get(port, '/')).body).toBe('web@0');
  });

  it('maxHeaderCount: one header line too many → 431, never forwarded', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream), { maxHeaderCount: 10 });
    const { port } = testProxy;
    const lines = Array.from({ length: 10 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
    expect(await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${lines}\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    expect(w.seen).toHaveLength(0);
    // Host + Connection + 8 = 10 lines: at the limit, served.
    const fewer = Array.from({ length: 8 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
    expect(await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${fewer}\r\n`)).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('a worker response head over maxResponseHeaderSize → 502', async () => {
    await using w = await startUpstream('web@0', (_req, res) => {
      res.setHeader('X-Big', 'a'.repeat(5000));
      res.end('big');
    });
    await using testProxy = await startProxy(makeRoute(w.upstream), { maxResponseHeaderSize: 4096 });
    const { port } = testProxy;
    expect((await get(port, '/')).status).toBe(502);
    await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight back to 0');
  });
});

describe('request lines and Host as nginx checks them', () => {
  const refused: Record<string, [string, RegExp]> = {
    'an explicit HTTP/0.9': ['GET / HTTP/0.9\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 (400|505) /],
    'HTTP/2.0 in an HTTP/1 request line': ['GET / HTTP/2.0\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 (400|505) /],
    'two Host headers': ['GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n', /^HTTP\/1\.1 400 /],
    'an empty Host': ['GET / HTTP/1.1\r\nHost: \r\n\r\n', /^HTTP\/1\.1 400 /],
    'a whitespace-only Host beside an absolute target': ['GET http://app.example/ HTTP/1.1\r\nHost:   \r\n\r\n', /^HTTP\/1\.1 400 /],
    'a Host with a path': ['GET / HTTP/1.1\r\nHost: a.example/evil\r\n\r\n', /^HTTP\/1\.1 400 /],
    'a Host with user info': ['GET / HTTP/1.1\r\nHost: user@a.example\r\n\r\n', /^HTTP\/1\.1 400 /],
    'no Host in HTTP/1.1': ['GET / HTTP/1.1\r\nX: y\r\n\r\n', /^HTTP\/1\.1 400 /],
  };
  for (const [name, [bytes, expected]] of Object.entries(refused)) {
    it(`${name}: refused, never forwarded`, async () => {
      await using w = await startUpstream('web@0', answerWith('web@0'));
      await using testProxy = await startProxy(makeRoute(w.upstream));
      const { port } = testProxy;
      expect(await rawExchange(port, bytes)).toMatch(expected);
      expect(w.seen).toHaveLength(0);
    });
  }

  it('HTTP/1.0 without Host is still served (the worker gets its own host:port)', async () => {
    await using w = await startUpstream('web@0', answerWith('web@0'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    expect(await rawExchange(port, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
    expect(w.seen[0]?.headers.host).toBe(`127.0.0.1:${w.upstream.port}`);
  });
});

describe('connect timeout', () => {
  it('a worker whose accept queue is full: the connect times out after upstreamConnectTimeoutMs, the request goes to the target', async () => {
    // A listener that never accepts (python3, backlog 0): once its queue holds a connection,
    // further SYNs are dropped and a connect hangs, as to a stuck or firewalled worker.
    const { spawn } = await import('node:child_process');
    const child = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await using _child = disposer(() => void child.kill('SIGKILL'));
    const stuckPort = await new Promise<number>((resolve) => child.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    const fillers: net.Socket[] = [];
    await using _fillers = disposer(() => fillers.forEach((s) => s.destroy()));
    for (let i = 0; i < 3; i++) {
      const s = net.connect(stuckPort, '127.0.0.1');
      s.on('error', () => {});
      fillers.push(s);
    }
    await using target = await startUpstream('web@1', answerWith('web@1'));
    const stuck = { id: 'web@0', host: '127.0.0.1', port: stuckPort, routable: true, draining: true, lease: new Lease() };
    const route = makeRoute(target.upstream);
    route.sessions.bind('S0', stuck, 60_000);
    await using testProxy = await startProxy(route, { upstreamConnectTimeoutMs: 300 });
    const { port } = testProxy;
    const started = Date.now();
    const answer = await get(port, '/', { Cookie: 'demo.sid=S0' });
    expect(answer.body).toBe('web@1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(stuck.lease.inFlight).toBe(0);
  });
});
