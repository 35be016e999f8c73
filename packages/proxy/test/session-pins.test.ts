/**
 * The engine's side of the bounded session table: a session with a request or a WebSocket under
 * way is pinned (never evicted to make room), and a WebSocket handshake that binds a session
 * hands out the route cookie like any response.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SessionTable } from '@handover/session-table';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Upstream } from '../src/index';
import { disposer, get, makeRoute, startProxy, startUpstream, waitFor } from './helpers';
import { Lease } from '@handover/process-table';

/** Binds many new sessions to `owner`, as a flood of new visitors would. */
function flood(table: SessionTable<Upstream>, owner: Upstream, count: number): void {
  for (let i = 0; i < count; i++) table.bind(`flood-${i}`, owner, 60_000);
}

describe('pinned sessions', () => {
  it('a session with a request under way is not evicted by a flood of new ones', async () => {
    let hold: (() => void) | undefined;
    await using w = await startUpstream('web@0', (req, res) => {
      if (req.url === '/slow') hold = () => res.end('done');
      else res.end('web@0');
    });
    const table = new SessionTable<Upstream>({ maxSessions: 4 });
    const route = makeRoute(w.upstream, { sessions: table });
    table.bind('busy', w.upstream, 60_000);
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const slow = get(port, '/slow', { Cookie: 'demo.sid=busy' });
    await waitFor(() => hold !== undefined, 'the request at the worker');
    flood(table, w.upstream, 50);
    expect(table.peek('busy')).toBe(w.upstream);
    hold?.();
    expect((await slow).body).toBe('done');
    // Once it is answered the pin is gone: the next flood may take it.
    flood(table, w.upstream, 50);
    expect(table.peek('busy')).toBeUndefined();
  });

  it('a session with an open WebSocket is not evicted; the 101 carries the route cookie when it binds', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    // The app starts the session on the handshake (as a login over the socket would).
    wss.on('headers', (headers) => headers.push('X-Handover-Session: ws-user; ttl=600'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await using _server = disposer(() => new Promise<void>((resolve) => (wss.close(), server.closeAllConnections(), server.close(() => resolve()))));
    const upstream: Upstream = { id: 'web@0', host: '127.0.0.1', port: (server.address() as AddressInfo).port, routable: true, draining: false, lease: new Lease() };
    const table = new SessionTable<Upstream>({ maxSessions: 4 });
    const route = makeRoute(upstream, {
      sessions: table,
      routeCookie: { name: 'handover_route', key: randomBytes(32), upstream: (id) => (id === 'web@0' ? upstream : undefined) },
    });
    await using testProxy = await startProxy(route);
    const { port } = testProxy;
    const client = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Cookie: 'demo.sid=ws-user' } });
    await using _client = disposer(() => client.terminate());
    let response: http.IncomingMessage | undefined;
    client.on('upgrade', (res) => (response = res));
    await new Promise((resolve, reject) => client.on('open', resolve).on('error', reject));
    expect(String(response?.headers['set-cookie'])).toMatch(/^handover_route=web@0\./);
    // The handshake bound it; the open socket pins it.
    flood(table, upstream, 50);
    expect(table.peek('ws-user')).toBe(upstream);
    client.close();
    await waitFor(() => upstream.lease.webSockets === 0, 'the socket closed');
    flood(table, upstream, 50);
    expect(table.peek('ws-user')).toBeUndefined();
  });
});
