/**
 * The generated haproxy.cfg, run by a real HAProxy (Debian's) in front of two stand-in nodes:
 * each is a proxy port that says which node answered and a control port whose /node-health the
 * test switches. What a client sees: pinned to its node, drained nodes keep their own clients
 * but take no new ones, a stale or dead node's cookie lands on a live node with 200.
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asyncResource, tempDir } from '../../../../test-support/resources';
import { FleetArgumentError, haproxyConfig, parseNode } from '../../src/fleet/haproxy-config';
import { waitFor } from '../wait';
import { startFront } from './haproxy';

/** A stand-in node: its "proxy" answers its name; its control port answers /node-health with `health`. */
async function standInNode(name: string) {
  const state = { health: 200 };
  const listen = async (handler: http.RequestListener) => {
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server;
  };
  const proxy = await listen((_req, res) => res.end(name));
  const control = await listen((req, res) => {
    res.statusCode = req.url === '/node-health' ? state.health : 404;
    res.end(state.health === 200 ? 'ready' : 'draining');
  });
  const port = (s: http.Server) => (s.address() as AddressInfo).port;
  return asyncResource(
    { name, state, proxy, node: parseNode(`${name}=127.0.0.1:${port(proxy)}@127.0.0.1:${port(control)}`) },
    async () => {
      for (const s of [proxy, control]) {
        s.closeAllConnections();
        await new Promise((resolve) => s.close(resolve));
      }
    },
  );
}

/**
 * One request on a connection of its own (as a new browser tab might open) with an optional node
 * cookie: which node answered, and the cookie HAProxy set.
 */
function visit(port: number, cookie?: string): Promise<{ status: number; node: string; setCookie: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, headers: cookie === undefined ? {} : { cookie } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, node: body, setCookie: res.headers['set-cookie']?.[0]?.split(';')[0] }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

describe('handover haproxy-config', () => {
  it('reads --node NAME=HOST:PORT[@CONTROLHOST:PORT] and refuses what cannot work, saying why', () => {
    expect(parseNode('a=10.0.0.1:8080@10.0.0.1:8090')).toEqual({ name: 'a', host: '10.0.0.1', port: 8080, control: { host: '10.0.0.1', port: 8090 } });
    expect(parseNode('b=[::1]:8080')).toEqual({ name: 'b', host: '[::1]', port: 8080 });
    for (const bad of ['10.0.0.1:8080', 'a=10.0.0.1', 'a=host:70000', 'a b=h:1', 'a=h:1@h:2@h:3']) expect(() => parseNode(bad), bad).toThrow(FleetArgumentError);
    const node = parseNode('a=127.0.0.1:1@127.0.0.1:2');
    expect(() => haproxyConfig({ listen: { host: '127.0.0.1', port: 80 }, nodes: [node, node] })).toThrow(/two nodes are named a/);
    expect(() => haproxyConfig({ listen: { host: '127.0.0.1', port: 80 }, nodes: [] })).toThrow(/at least one --node/);
  });

  it('haproxy -c accepts the generated file', async () => {
    await using dir = await tempDir('handover-haproxy-');
    const file = join(dir.path, 'haproxy.cfg');
    writeFileSync(file, haproxyConfig({ listen: { host: '127.0.0.1', port: 18443 }, nodes: [parseNode('a=127.0.0.1:8080@127.0.0.1:8090'), parseNode('b=127.0.0.1:8081')], stats: { host: '127.0.0.1', port: 18444 } }));
    expect(execFileSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' })).toMatch(/Configuration file is valid/);
  });

  it('pins clients to their node, drains without moving them, and lands stale or dead nodes’ clients on a live one', async () => {
    await using dir = await tempDir('handover-haproxy-');
    await using a = await standInNode('a');
    await using b = await standInNode('b');
    await using haproxy = await startFront(dir.path, [a.node, b.node]);
    const { port } = haproxy;

    // New clients get the node cookie; each comes back to its node.
    const first = await visit(port);
    expect(first.setCookie).toBe(`HNODE=${first.node}`);
    for (let i = 0; i < 3; i++) expect((await visit(port, first.setCookie)).node).toBe(first.node);
    const clients = new Map<string, string>();
    for (let i = 0; i < 6; i++) {
      const v = await visit(port);
      clients.set(v.node, v.setCookie!);
    }
    expect([...clients.keys()].sort()).toEqual(['a', 'b']);

    // Drain a: no new client there, a's own clients stay.
    a.state.health = 404;
    await waitFor(async () => {
      const nodes = await Promise.all(Array.from({ length: 6 }, () => visit(port)));
      return nodes.every((v) => v.node === 'b') || undefined;
    }, 10_000, 'a drained');
    expect((await visit(port, clients.get('a'))).node).toBe('a');

    // A cookie naming no node of this file lands on a live node, 200.
    const stale = await visit(port, 'HNODE=gone');
    expect(stale.status).toBe(200);

    // a dies: its clients are sent to b, 200.
    a.state.health = 200;
    await a[Symbol.asyncDispose]();
    const moved = await waitFor(async () => {
      const v = await visit(port, clients.get('a'));
      return v.status === 200 && v.node === 'b' ? v : undefined;
    }, 10_000, 'a’s client on b');
    expect(moved.setCookie).toBe('HNODE=b');
  });
});
