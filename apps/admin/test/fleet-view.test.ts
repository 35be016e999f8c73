import { describe, expect, it } from 'vitest';
import type { FleetNodeView } from '@handover/control-api/fleet';
import { fakeWorker } from '@handover/control-api/testing';
import type { NodeStatus, PoolInfo } from '@handover/process-table';
import { type FleetSyncRunView, fleetSummary, liveWorkers, nodeTraffic, nodeTrafficText, poolRevisions, runOutcome } from '../src/lib/fleet';

/** What the /fleet page says about a node, a pool and a run: the words the operator acts on. */

const status = (patch: Partial<NodeStatus> = {}): NodeStatus => ({
  accepting: true,
  draining: false,
  drainingSince: null,
  drainedBy: null,
  allPoolsErrored: false,
  sessions: 2,
  inFlight: 0,
  webSockets: 0,
  drained: false,
  ...patch,
});
const pool = (patch: Partial<PoolInfo> = {}): PoolInfo =>
  ({ name: 'web', revision: 'v1', runningRevisions: ['v1'], drift: null, ...patch }) as PoolInfo;
const view = (name: string, node: NodeStatus | null, pools: PoolInfo[] = [pool()]): FleetNodeView => ({
  name,
  control: 'http://127.0.0.1:8090',
  error: node === null ? 'fetch failed (ECONNREFUSED)' : null,
  node,
  pools: node === null ? [] : pools,
  workers: node === null ? [] : [fakeWorker('web@1'), fakeWorker('web@0', { state: 'detached', attached: false }), fakeWorker('web@2', { state: 'stopped' })],
});

describe('a node card', () => {
  it('says whether the node takes new clients', () => {
    expect(nodeTraffic(view('a', status())).label).toBe('takes new clients');
    expect(nodeTraffic(view('a', status({ accepting: false, draining: true }))).label).toBe('draining');
    expect(nodeTraffic(view('a', status({ accepting: false, draining: true, drained: true, sessions: 0 }))).label).toBe('drained');
    expect(nodeTraffic(view('a', status({ accepting: false, allPoolsErrored: true })))).toEqual({ label: 'pools errored', tone: 'bad' });
    expect(nodeTraffic(view('a', null))).toEqual({ label: 'unreachable', tone: 'bad' });
  });

  it('shows a pool out of sync when what runs is not what is configured', () => {
    expect(poolRevisions(pool())).toEqual({ running: 'v1', configured: 'v1', drift: false });
    expect(poolRevisions(pool({ revision: 'v2' }))).toEqual({ running: 'v1', configured: 'v2', drift: true });
    expect(poolRevisions(pool({ runningRevisions: ['v1', 'v2'], revision: 'v2' })).running).toBe('v1 + v2');
    // The supervisor's own word (say, a changed command on the same revision) counts too.
    expect(poolRevisions(pool({ drift: { configuredRevision: 'v1', runningRevisions: ['v1'], changes: ['command changed'] } })).drift).toBe(true);
    expect(poolRevisions(pool({ runningRevisions: [] })).running).toBe('—');
  });

  it('lists the running workers only, by generation', () => {
    expect(liveWorkers(view('a', status())).map((w) => w.id)).toEqual(['web@0', 'web@1']);
  });
});

describe('the fleet totals', () => {
  it('count answering nodes, nodes not taking clients and nodes out of sync', () => {
    const nodes = [view('a', status({ accepting: false, draining: true })), view('b', status(), [pool({ revision: 'v2' })]), view('c', null)];
    expect(fleetSummary(nodes)).toEqual({ reachable: 2, notTaking: 1, drifting: 1 });
  });
});

describe('the rolling sync outcome', () => {
  const run = (patch: Partial<FleetSyncRunView>): FleetSyncRunView => ({
    id: 1,
    startedBy: 'alice',
    startedAt: '2030-01-01T00:00:00.000Z',
    finishedAt: null,
    state: 'running',
    steps: [],
    upgraded: [],
    stoppedAt: null,
    ...patch,
  });
  it('says done, what was upgraded, or where and why it stopped', () => {
    expect(runOutcome(run({}))).toBe('running…');
    expect(runOutcome(run({ state: 'done', upgraded: ['a', 'b'] }))).toBe('done: upgraded a, b');
    expect(runOutcome(run({ state: 'done' }))).toBe('done: every node was up to date');
    expect(runOutcome(run({ state: 'stopped', stoppedAt: { node: 'b', pool: 'web', reason: 'web@1 failed to start' } }))).toBe('stopped at node b: web@1 failed to start');
    expect(runOutcome(run({ state: 'stopped', stoppedAt: { node: null, pool: null, reason: 'no fleet file at /x' } }))).toBe('stopped: no fleet file at /x');
  });
});

describe('this node, in words (the dashboard\'s node panel)', () => {
  it('says what the front is told and, while draining, what is left', () => {
    expect(nodeTrafficText(status())).toBe('Takes new clients');
    expect(nodeTrafficText(status({ draining: true, accepting: false, sessions: 1, inFlight: 2, webSockets: 1 }))).toBe(
      'Draining: no new clients; 1 session, 2 in flight, 1 WebSocket left',
    );
    expect(nodeTrafficText(status({ draining: true, accepting: false, sessions: 0, drained: true }))).toBe('Drained: nothing left on this node, it can be taken down');
    expect(nodeTrafficText(status({ accepting: false, allPoolsErrored: true }))).toBe('Every pool is errored: the front sends no new clients');
  });
});
