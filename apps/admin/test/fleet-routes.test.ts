import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlServer, startControlServer } from '@handover/control-api';
import { FakeSupervisor } from '@handover/control-api/testing';
import { type FleetSource, createFleetSource } from '../src/server/fleet';
import { createFleetPassThrough } from '../src/server/fleet-pass-through';
import { createFleetStatusRoute, createFleetSyncRoute } from '../src/server/fleet-routes';
import { createFleetSyncRunner } from '../src/server/fleet-sync-run';
import type { ConsoleSession } from '../src/server/session';
import { freePort } from '../../../test-support/ports';

/**
 * The console's fleet routes against two fake nodes behind real control servers, each with its
 * own token: the per-node pass-through, the status view and the rolling sync run.
 */

const ORIGIN = 'http://127.0.0.1:3999';
const alice: ConsoleSession = { user: 'alice', expiresAt: Date.now() + 3_600_000 };
const nodes: Array<{ name: string; fake: FakeSupervisor; server: ControlServer; token: string }> = [];
let dir: string;
let fleet: FleetSource;
let deadPort: number;

async function writeFleet(names: string[]): Promise<void> {
  const entries = names.map((name) => {
    const node = nodes.find((n) => n.name === name);
    return node ? { name, control: node.server.url, token: node.token } : { name, control: `http://127.0.0.1:${deadPort}`, token: 'x'.repeat(20) };
  });
  await writeFile(path.join(dir, 'fleet.json'), JSON.stringify({ nodes: entries }));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'handover-admin-fleet-'));
  for (const name of ['a', 'b']) {
    const fake = new FakeSupervisor();
    const token = `token-of-${name}-0123456789abcdef`;
    const server = await startControlServer({ supervisor: fake, token, host: '127.0.0.1', port: 0, log: () => {} });
    nodes.push({ name, fake, server, token });
  }
  deadPort = await freePort();
  await writeFleet(['a', 'b']);
  fleet = createFleetSource({ env: { HANDOVER_FLEET: path.join(dir, 'fleet.json') }, cwd: dir, loadEnv: async () => {} });
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.server.close()));
  await rm(dir, { recursive: true, force: true });
});

const request = (url: string, init: RequestInit = {}) => new Request(`${ORIGIN}${url}`, { ...init, headers: { host: '127.0.0.1:3999', ...init.headers } });
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  request(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', origin: ORIGIN, ...headers } });

describe('the per-node pass-through', () => {
  const passThrough = (session: ConsoleSession | null = alice) => createFleetPassThrough({ fleet, getSession: async () => session, trustedProxyHops: 0 });

  it('drains the node named in the path (only that one), with its own token and the operator and node as actor', async () => {
    const answer = await passThrough()(post('/api/fleet/nodes/b/trpc/node.drain', {}, { authorization: 'Bearer stolen', 'x-handover-actor': 'mallory' }));
    expect(answer.status).toBe(200);
    const text = await answer.text();
    expect(JSON.parse(text).result.data).toMatchObject({ draining: true, accepting: false });
    for (const node of nodes) expect(text).not.toContain(node.token);
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    expect(b.fake.calls.filter((c) => c.method === 'drainNode').map((c) => c.args)).toEqual([['console:alice (fleet, node b)']]);
    expect(a.fake.calls.some((c) => c.method === 'drainNode')).toBe(false);
    expect((await passThrough()(post('/api/fleet/nodes/b/trpc/node.ready', {}))).status).toBe(200);
    expect(b.fake.calls.filter((c) => c.method === 'readyNode').map((c) => c.args)).toEqual([['console:alice (fleet, node b)']]);
  });

  it('answers queries (a batch too) from the right node', async () => {
    const answer = await passThrough()(request('/api/fleet/nodes/a/trpc/node.status,workers.list?batch=1&input={}'));
    expect(answer.status).toBe(200);
    const [status, workers] = (await answer.json()) as Array<{ result: { data: unknown } }>;
    expect(status!.result.data).toMatchObject({ accepting: true });
    expect((workers!.result.data as Array<{ id: string }>).map((w) => w.id)).toEqual(['web@0', 'web@1']);
  });

  it('refuses: no login (401, before saying whether a node exists), another site (403), an unknown or malformed node (404), a bad procedure path (404)', async () => {
    expect((await passThrough(null)(request('/api/fleet/nodes/a/trpc/node.status'))).status).toBe(401);
    expect((await passThrough(null)(request('/api/fleet/nodes/zz/trpc/node.status'))).status).toBe(401);
    expect((await passThrough()(post('/api/fleet/nodes/a/trpc/node.drain', {}, { origin: 'https://evil.example' }))).status).toBe(403);
    for (const name of ['zz', '..', '%2e%2e', 'a%2Fb', '']) {
      const answer = await passThrough()(request(`/api/fleet/nodes/${name}/trpc/node.status`));
      expect(answer.status, name).toBe(404);
    }
    expect((await passThrough()(request('/api/fleet/nodes/a/trpc/../../x'))).status).toBe(404);
    expect(nodes.every((n) => !n.fake.calls.some((c) => c.method === 'drainNode' && c.args[0] !== 'console:alice (fleet, node b)'))).toBe(true);
  });

  it('refuses a body over the limit', async () => {
    const answer = await passThrough()(post('/api/fleet/nodes/a/trpc/node.drain', { padding: 'x'.repeat(1024 * 1024 + 1) }));
    expect(answer.status).toBe(413);
  });
});

describe('the status route', () => {
  it('shows each node and the total, and a node that does not answer with its error', async () => {
    await writeFleet(['a', 'b', 'gone']);
    try {
      const route = createFleetStatusRoute({ fleet, getSession: async () => alice, trustedProxyHops: 0, nodeTimeoutMs: 2000 });
      const answer = await route(request('/api/fleet/status'));
      expect(answer.status).toBe(200);
      const body = (await answer.json()) as { nodes: Array<{ name: string; error: string | null }>; totalSessions: number };
      expect(body.nodes.map((n) => [n.name, n.error === null])).toEqual([['a', true], ['b', true], ['gone', false]]);
      expect(body.nodes[2]!.error).toMatch(/ECONNREFUSED/);
      expect(body.totalSessions).toBe(8); // the fake's 3 + 1 sessions on each answering node
      expect(JSON.stringify(body)).not.toMatch(/token-of-/);
    } finally {
      await writeFleet(['a', 'b']);
    }
  });

  it('is 404 without a fleet, 503 with a broken fleet file, 401 without a login', async () => {
    const none = createFleetSource({ env: {}, cwd: dir, loadEnv: async () => {} });
    expect((await createFleetStatusRoute({ fleet: none, getSession: async () => alice })(request('/api/fleet/status'))).status).toBe(404);
    const broken = path.join(dir, 'broken.json');
    await writeFile(broken, '{"nodes": [');
    const bad = createFleetSource({ env: { HANDOVER_FLEET: broken }, cwd: dir, loadEnv: async () => {} });
    const answer = await createFleetStatusRoute({ fleet: bad, getSession: async () => alice })(request('/api/fleet/status'));
    expect(answer.status).toBe(503);
    expect(((await answer.json()) as { error: { message: string } }).error.message).toMatch(/is not JSON/);
    expect((await createFleetStatusRoute({ fleet, getSession: async () => null })(request('/api/fleet/status'))).status).toBe(401);
  });
});

describe('the rolling sync route', () => {
  it('runs on the server: 202, then 409 while it runs, then its steps node after node and "done"', async () => {
    // Hold node a's detach-and-sync until released, so the second POST meets a running sync.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const fetchHeld: typeof fetch = async (input, init) => {
      if (String(input).includes('workers.detachAndSync') && String(input).startsWith(nodes[0]!.server.url)) await held;
      return fetch(input, init);
    };
    const runner = createFleetSyncRunner({ fleet, fetch: fetchHeld });
    const route = createFleetSyncRoute({ fleet, getSession: async () => alice, trustedProxyHops: 0, runner });
    const first = await route.POST(post('/api/fleet/sync', {}));
    expect(first.status).toBe(202);
    expect((await route.POST(post('/api/fleet/sync', {}))).status).toBe(409);
    expect((await route.POST(post('/api/fleet/sync', {}, { origin: 'https://evil.example' }))).status).toBe(403);
    const running = (await (await route.GET(request('/api/fleet/sync'))).json()) as { run: { state: string } };
    expect(running.run.state).toBe('running');
    release();
    await runner.settled();
    const { run } = (await (await route.GET(request('/api/fleet/sync'))).json()) as {
      run: { state: string; upgraded: string[]; steps: Array<{ kind: string; node: string | null; message: string }>; startedBy: string };
    };
    expect(run.state).toBe('done');
    expect(run.startedBy).toBe('alice');
    expect(run.upgraded).toEqual(['a', 'b']);
    expect(run.steps.map((s) => `${s.kind} ${s.node}`)).toEqual(['syncing a', 'synced a', 'syncing b', 'synced b', 'done null']);
    for (const node of nodes) {
      expect(node.fake.calls.filter((c) => c.method === 'detachAndSync').map((c) => c.args[1])).toEqual([`console:alice (fleet, node ${node.name})`]);
    }
  });

  it('a run that cannot read the fleet file stops with the reason instead of hanging', async () => {
    const bad = createFleetSource({ env: { HANDOVER_FLEET: path.join(dir, 'nope.json') }, cwd: dir, loadEnv: async () => {} });
    const runner = createFleetSyncRunner({ fleet: bad });
    runner.start('alice');
    await runner.settled();
    expect(runner.current()).toMatchObject({ state: 'stopped', stoppedAt: { node: null, reason: expect.stringMatching(/no fleet file at/) } });
  });
});
