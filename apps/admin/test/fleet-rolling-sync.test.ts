import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test-support/resources';
import { TestSupervisor, demoPool, waitFor } from '../../supervisor/test/harness';
import { clickLoad } from '../../supervisor/test/fleet/click-load';
import { nodeOf, startFront } from '../../supervisor/test/fleet/haproxy';
import { createFleetSource } from '../src/server/fleet';
import { createFleetSyncRoute } from '../src/server/fleet-routes';
import { createFleetSyncRunner } from '../src/server/fleet-sync-run';
import type { FleetSyncRunView } from '../src/lib/fleet';
import type { ConsoleSession } from '../src/server/session';

/**
 * The console's Rolling sync (#11) upgrading two real Handover nodes behind a real HAProxy
 * while users click through the front: started with POST /api/fleet/sync, followed with GET
 * as the page does, no failed request, every user's counter kept.
 */
const TOKEN = 'test-token-0123456789abcdef'; // the harness's control token
const ORIGIN = 'http://127.0.0.1:3999';
const alice: ConsoleSession = { user: 'alice', expiresAt: Date.now() + 3_600_000 };

describe('the console’s rolling sync across two real nodes', () => {
  it('upgrades node a, then node b, with 0 failed requests while a load runs through the front', async () => {
    await using dir = await tempDir('handover-console-fleet-');
    await using a = await TestSupervisor.launch(demoPool('v1'));
    await using b = await TestSupervisor.launch(demoPool('v1'));
    await using front = await startFront(dir.path, [nodeOf(a, 'a'), nodeOf(b, 'b')]);
    const fleetFile = path.join(dir.path, 'handover.fleet.json');
    await writeFile(fleetFile, JSON.stringify({ nodes: [{ name: 'a', control: a.running.control.url, token: TOKEN }, { name: 'b', control: b.running.control.url, token: TOKEN }] }));
    const fleet = createFleetSource({ env: { HANDOVER_FLEET: fleetFile }, cwd: dir.path, loadEnv: async () => {} });
    const route = createFleetSyncRoute({ fleet, getSession: async () => alice, trustedProxyHops: 0, runner: createFleetSyncRunner({ fleet }) });
    const headers = { host: '127.0.0.1:3999', origin: ORIGIN };
    const runNow = async () => ((await (await route.GET(new Request(`${ORIGIN}/api/fleet/sync`, { headers }))).json()) as { run: FleetSyncRunView }).run;

    const load = clickLoad(front.url, 6);
    await waitFor(() => load.requests >= 12, 20_000);
    await a.writeConfig(demoPool('v2'));
    await b.writeConfig(demoPool('v2'));
    const started = await route.POST(new Request(`${ORIGIN}/api/fleet/sync`, { method: 'POST', headers }));
    expect(started.status).toBe(202);

    // Follow it the way the page does, with a deadline.
    let run = await runNow();
    const deadline = Date.now() + 60_000;
    while (run.state === 'running' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      run = await runNow();
    }
    const requestsAtEnd = load.requests;
    await waitFor(() => load.requests >= requestsAtEnd + 12, 20_000); // users go on clicking on the new revision
    const { requests, failures, counters } = await load.stop();

    expect(run.state, JSON.stringify(run.steps)).toBe('done');
    expect(run.upgraded).toEqual(['a', 'b']);
    expect(run.steps.map((s) => `${s.kind} ${s.node ?? ''}`)).toEqual(['syncing a', 'synced a', 'syncing b', 'synced b', 'done ']);
    expect(run.steps[1]!.message).toMatch(/^node a: web@1 ready on v2; web@0 draining$/);
    expect(failures.slice(0, 5), `${failures.length} failed of ${requests}`).toEqual([]);
    expect(counters.every((n) => n >= 2)).toBe(true);
    for (const [name, h] of [['a', a], ['b', b]] as const) {
      expect(h.supervisor.listWorkers().filter((w) => w.state === 'started').map((w) => w.revision)).toEqual(['v2']);
      // Each node's own audit log names the operator and the node.
      expect(h.events.filter((e) => e.type === 'action' && e.actor === `console:alice (fleet, node ${name})`).length).toBeGreaterThan(0);
      // The users' sessions stay on the old worker, which drains: none lost.
      expect(h.events.filter((e) => e.type === 'sessions.lost' || e.type === 'worker.killed')).toEqual([]);
    }
  });
});
