import http, { type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { SessionTable } from '@handover/session-table';
import type { Upstream } from '../src/index';
import { type AsyncResource, asyncResource, deadPort, deadUpstream, disposer, get, makeRoute, rawExchange, startProxy, startUpstream, type TestUpstream, waitFor } from './helpers';

interface WsWorker extends TestUpstream {
  upgrades: IncomingMessage[];
  wss: WebSocketServer;
}

/** A worker whose websocket greets with its id and echoes; its sockets are ended on dispose. */
async function wsWorker(id: string, extraHeaders: string[] = []): Promise<AsyncResource<WsWorker>> {
  const base = await startUpstream(id, (_req, res) => res.end(id));
  const wss = new WebSocketServer({ server: base.server });
  const upgrades: IncomingMessage[] = [];
  wss.on('headers', (headers) => headers.push(...extraHeaders));
  wss.on('connection', (socket, req) => {
    upgrades.push(req);
    socket.send(`hello from ${id}`);
    socket.on('message', (data) => socket.send(`echo ${data.toString()}`));
  });
  const closeBase = base[Symbol.asyncDispose];
  return asyncResource(Object.assign(base, { upgrades, wss }), async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    await closeBase();
  });
}

/** The test's WebSocket clients: `open` connects one and waits for its first message; all are terminated on dispose. */
function wsClients() {
  const clients = new Set<WebSocket>();
  const open = (port: number, path = '/ws', headers: Record<string, string> = {}): Promise<{ ws: WebSocket; first: string; response: IncomingMessage }> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
      clients.add(ws);
      let response: IncomingMessage | undefined;
      ws.on('upgrade', (res) => (response = res));
      ws.once('message', (data) => resolve({ ws, first: data.toString(), response: response as IncomingMessage }));
      ws.on('error', reject);
    });
  return asyncResource({ open }, () => clients.forEach((ws) => ws.terminate()));
}

function refused(port: number, headers: Record<string, string> = {}): Promise<{ status: number; body: string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers });
    ws.on('open', () => reject(new Error('unexpectedly opened')));
    ws.on('error', () => {});
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      const closed = new Promise<void>((done) => res.socket.on('close', () => done()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, closed });
        req.destroy();
      });
    });
  });
}

function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => ws.once('message', (data) => resolve(data.toString())));
}

describe('websockets', () => {
  it('routes upgrades with the same affinity as requests and pipes both ways', async () => {
    await using clients = wsClients();
    const { open } = clients;
    await using w0 = await wsWorker('web@0');
    await using w1 = await wsWorker('web@1');
    const route = makeRoute(w1.upstream);
    route.sessions.bind('S0', w0.upstream, 60_000);
    w0.upstream.draining = true;
    await using testProxy = await startProxy(route);
    const { port } = testProxy;

    const a = await open(port, '/ws', { Cookie: 'demo.sid=S0' });
    expect(a.first).toBe('hello from web@0');
    a.ws.send('ping');
    expect(await nextMessage(a.ws)).toBe('echo ping');

    const b = await open(port);
    expect(b.first).toBe('hello from web@1');
    const big = 'x'.repeat(1024 * 1024);
    b.ws.send(big);
    expect(await nextMessage(b.ws)).toBe(`echo ${big}`);
  });

  it('reads the session from the path parameter for upgrades too', async () => {
    await using clients = wsClients();
    const { open } = clients;
    await using w0 = await wsWorker('web@0');
    await using w1 = await wsWorker('web@1');
    const route = makeRoute(w1.upstream, { sessionCookie: 'JSESSIONID', sessionPathParameter: 'jsessionid' });
    route.sessions.bind('P0', w0.upstream, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    expect((await open(port, '/ws;jsessionid=P0')).first).toBe('hello from web@0');
  });

  it('counts open websockets and releases a draining worker when one closes', async () => {
    await using clients = wsClients();
    const { open } = clients;
    await using w0 = await wsWorker('web@0');
    const route = makeRoute(w0.upstream);
    await using testProxy = await startProxy(route);
    const { port, released } = testProxy;
    const a = await open(port);
    const b = await open(port);
    expect(w0.upstream.lease.webSockets).toBe(2);
    expect(w0.upstream.lease.inFlight).toBe(0);
    w0.upstream.draining = true;
    a.ws.close();
    await waitFor(() => w0.upstream.lease.webSockets === 1, 'webSockets 1');
    expect(released).toEqual([w0.upstream]);
    // the worker closing its side counts too
    for (const client of w0.wss.clients) client.terminate();
    await waitFor(() => w0.upstream.lease.webSockets === 0, 'webSockets 0');
    expect(released).toEqual([w0.upstream, w0.upstream]);
    await new Promise<void>((resolve) => (b.ws.readyState === WebSocket.CLOSED ? resolve() : b.ws.once('close', () => resolve())));
  });

  it('keeps the session of an open WebSocket alive past its idle timeout; its idle clock starts when the socket closes', async () => {
    await using clients = wsClients();
    await using w0 = await wsWorker('web@0');
    await using w1 = await wsWorker('web@1');
    const clock = { now: 1_000_000 };
    const route = makeRoute(w0.upstream, { idleTimeoutMs: 1000, sessions: new SessionTable<Upstream>({ now: () => clock.now, bucketMs: 100 }) });
    route.sessions.bind('S1', w0.upstream, 1000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const { ws, first } = await clients.open(port, '/ws', { Cookie: 'demo.sid=S1' });
    expect(first).toBe('hello from web@0');
    // A chat over the socket for five idle timeouts; meanwhile new sessions go to web@1.
    route.target = w1.upstream;
    clock.now += 5000;
    route.sessions.sweep();
    expect(route.sessions.peek('S1')).toBe(w0.upstream);
    ws.send('still here');
    expect(await nextMessage(ws)).toBe('echo still here');
    // The user's next page load still reaches their worker.
    expect((await get(port, '/', { Cookie: 'demo.sid=S1' })).body).toBe('web@0');
    clock.now += 2000; // and the socket alone for two more
    route.sessions.sweep();
    expect(route.sessions.peek('S1')).toBe(w0.upstream);
    ws.close();
    await waitFor(() => w0.upstream.lease.webSockets === 0, 'the tunnel closed');
    clock.now += 900; // less than an idle timeout after the close
    route.sessions.sweep();
    expect(route.sessions.peek('S1')).toBe(w0.upstream);
    clock.now += 300;
    route.sessions.sweep();
    expect(route.sessions.peek('S1')).toBeUndefined();
    expect(w0.upstream.lease.sessions).toBe(0);
  });

  it('counts the handshake in inFlight until the worker answers', async () => {
    await using clients = wsClients();
    const { open } = clients;
    await using base = await startUpstream('web@0', (_req, res) => res.end());
    let accept: ((ok: boolean) => void) | undefined;
    const wss = new WebSocketServer({ server: base.server, verifyClient: (_info, done) => (accept = done) });
    wss.on('connection', (socket) => socket.send('hi'));
    await using _wss = disposer(() => {
      for (const client of wss.clients) client.terminate();
      wss.close();
    });
    await using testProxy = await startProxy(makeRoute(base.upstream));
    const { port, released } = testProxy;
    base.upstream.draining = true;
    const opening = open(port);
    await waitFor(() => accept !== undefined, 'the handshake at the worker');
    expect(base.upstream.lease.inFlight).toBe(1);
    expect(base.upstream.lease.webSockets).toBe(0);
    accept?.(true);
    expect((await opening).first).toBe('hi');
    expect(base.upstream.lease.inFlight).toBe(0);
    expect(base.upstream.lease.webSockets).toBe(1);
    expect(released).toEqual([base.upstream]);
  });

  it('rewrites the handshake: internal headers dropped both ways, forwarded headers added', async () => {
    await using clients = wsClients();
    const { open } = clients;
    await using w0 = await wsWorker('web@0', ['X-Handover-Session: WS1; ttl=60', 'X-Handover-Secret: no']);
    const route = makeRoute(w0.upstream);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const { response } = await open(port, '/ws', { 'X-Handover-Session': 'forged', 'X-Forwarded-For': '198.51.100.1' });
    const seen = w0.upgrades[0] as IncomingMessage;
    expect(Object.keys(seen.headers).filter((h) => h.startsWith('x-handover-'))).toEqual([]);
    // Not behind a trusted proxy: the client's X-Forwarded-For is replaced, as for plain requests.
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(Object.keys(response.headers).filter((h) => h.startsWith('x-handover-'))).toEqual([]);
    // the worker's report during the handshake still counts
    expect(route.sessions.peek('WS1')).toBe(w0.upstream);
  });

  it('replaces forged forwarding headers on the handshake as on plain requests', async () => {
    await using clients = wsClients();
    const { open } = clients;
    await using w0 = await wsWorker('web@0');
    await using testProxy = await startProxy(makeRoute(w0.upstream));
    const { port } = testProxy;
    const { first } = await open(port, '/ws', {
      Host: 'app.example',
      Forwarded: 'for=6.6.6.6;host=evil.example;proto=https',
      'X-Real-IP': '6.6.6.6',
      'X-Forwarded-Host': 'evil.example',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Port': '443',
    });
    expect(first).toBe('hello from web@0');
    const h = (w0.upgrades[0] as IncomingMessage).headers;
    expect(h.host).toBe('app.example');
    expect(h.forwarded).toBeUndefined();
    expect(h['x-real-ip']).toBeUndefined();
    expect(h['x-forwarded-port']).toBeUndefined();
    expect(h['x-forwarded-host']).toBe('app.example');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('passes a refused upgrade (non-101) to the client and closes the connection', async () => {
    await using w0 = await startUpstream('web@0', (_req, res) => {
      res.writeHead(401, { 'Content-Type': 'text/plain', 'X-Handover-Secret': 'no' });
      res.end('login first');
    });
    await using testProxy = await startProxy(makeRoute(w0.upstream));
    const { port } = testProxy;
    const answer = await refused(port);
    expect(answer.status).toBe(401);
    expect(answer.body).toBe('login first');
    await answer.closed;
    expect(w0.upstream.lease.webSockets).toBe(0);
    // On a raw socket that never closes by itself: the proxy relays the whole answer, then closes.
    const raw = await rawExchange(
      port,
      'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(raw).toMatch(/\r\nConnection: close\r\n/);
    expect(raw).not.toMatch(/x-handover/i);
    // Complete and framed (the worker chunked it, so does the proxy), then the close.
    expect(raw.endsWith('\r\n\r\nb\r\nlogin first\r\n0\r\n\r\n')).toBe(true);
  });

  it('passes a refusal from a worker using ws (verifyClient) too', async () => {
    await using base = await startUpstream('web@0', (_req, res) => res.end());
    const wss = new WebSocketServer({ server: base.server, verifyClient: () => false });
    await using _wss = disposer(() => wss.close());
    await using testProxy = await startProxy(makeRoute(base.upstream));
    const { port } = testProxy;
    const answer = await refused(port);
    expect(answer.status).toBe(401);
    await answer.closed;
    await waitFor(() => base.upstream.lease.inFlight === 0, 'inFlight 0');
  });

  it('refuses an upgrade with an absolute-form target (400); the worker never sees it', async () => {
    await using w = await startUpstream('web@0', (_req, res) => res.end('plain'));
    let upgrades = 0;
    w.server.on('upgrade', (_req, socket) => {
      upgrades++;
      socket.destroy();
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { port } = testProxy;
    const answer = await rawExchange(
      port,
      'GET http://app.example/ws HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(upgrades).toBe(0);
    expect(w.upstream.lease.inFlight).toBe(0);
  });

  it('answers 503 to an upgrade when there is no target, 502 when the worker is unreachable', async () => {
    await using testProxy = await startProxy(makeRoute(undefined));
    const { port } = testProxy;
    const none = await refused(port);
    expect(none.status).toBe(503);
    const dead = deadUpstream('web@0', await deadPort());
    await using testProxy2 = await startProxy(makeRoute(dead));
    const { port: port2 } = testProxy2;
    const bad = await refused(port2);
    expect(bad.status).toBe(502);
    expect(dead.lease.webSockets).toBe(0);
    expect(dead.lease.inFlight).toBe(0);
  });

  it('retries an upgrade on the target when the session owner refuses the connection', async () => {
    await using clients = wsClients();
    const { open } = clients;
    await using w1 = await wsWorker('web@1');
    const dead = deadUpstream('web@0', await deadPort());
    const route = makeRoute(w1.upstream);
    route.sessions.bind('S', dead, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    expect((await open(port, '/ws', { Cookie: 'demo.sid=S' })).first).toBe('hello from web@1');
    expect(dead.lease.inFlight).toBe(0);
    expect(w1.upstream.lease.inFlight).toBe(0);
    expect(w1.upstream.lease.webSockets).toBe(1);
  });

  it('close() destroys open websockets and resolves', async () => {
    await using clients = wsClients();
    const { open } = clients;
    await using w0 = await wsWorker('web@0');
    await using testProxy = await startProxy(makeRoute(w0.upstream));
    const { proxy, port } = testProxy;
    const { ws } = await open(port);
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await proxy.close(1000);
    await closed;
    await waitFor(() => w0.upstream.lease.webSockets === 0, 'webSockets 0');
    expect(proxy.server.listening).toBe(false);
  });

  it('close({ keepTunnels }) stops accepting but leaves open websockets working until closeTunnels()', async () => {
    await using clients = wsClients();
    await using w0 = await wsWorker('web@0');
    await using testProxy = await startProxy(makeRoute(w0.upstream));
    const { proxy, port } = testProxy;
    const { ws } = await clients.open(port);
    await proxy.close(1000, { keepTunnels: true });
    expect(proxy.server.listening).toBe(false);
    ws.send('after close');
    expect(await nextMessage(ws)).toBe('echo after close');
    expect(w0.upstream.lease.webSockets).toBe(1);
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await proxy.closeTunnels();
    await closed;
    expect(w0.upstream.lease.webSockets).toBe(0);
  });

  it('a plain request and an upgrade share the proxy port', async () => {
    await using clients = wsClients();
    const { open } = clients;
    await using w0 = await wsWorker('web@0');
    await using testProxy = await startProxy(makeRoute(w0.upstream));
    const { port } = testProxy;
    const body = await new Promise<string>((resolve) => http.get(`http://127.0.0.1:${port}/`, (res) => res.on('data', (c: Buffer) => resolve(c.toString()))));
    expect(body).toBe('web@0');
    expect((await open(port)).first).toBe('hello from web@0');
  });
});
