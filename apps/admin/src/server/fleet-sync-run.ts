import 'server-only';
import { type RollingSyncStep, describeFailure, fleetClients, rollingSync } from '@handover/control-api/fleet';
import { type FleetSource, fleetActor } from './fleet';

/**
 * The fleet's rolling detach-and-sync, run by the console's server: it goes on when the tab that
 * started it closes, and any tab (a new one, after a reload) follows it by polling `current()`.
 * One run at a time per console; the last one is kept (in memory) until the next starts.
 */
export interface FleetSyncRun {
  id: number;
  startedBy: string;
  startedAt: string;
  finishedAt: string | null;
  state: 'running' | 'done' | 'stopped';
  steps: Array<RollingSyncStep & { at: string }>;
  /** The nodes upgraded, once it has ended (while it runs, the steps say how far it got). */
  upgraded: string[];
  /** Why it stopped, where (node null: the fleet file itself); null while running or when done. */
  stoppedAt: { node: string | null; pool: string | null; reason: string } | null;
}

export interface FleetSyncRunner {
  current(): FleetSyncRun | null;
  /** Starts a run, or says which one is running already. */
  start(user: string): { started: boolean; run: FleetSyncRun };
  /** The end of the current run (tests). */
  settled(): Promise<void>;
}

export function createFleetSyncRunner(options: { fleet: FleetSource; fetch?: typeof globalThis.fetch; now?: () => Date }): FleetSyncRunner {
  const now = options.now ?? (() => new Date());
  let run: FleetSyncRun | null = null;
  let ending: Promise<void> = Promise.resolve();
  let nextId = 1;

  async function execute(current: FleetSyncRun): Promise<void> {
    const finish = (state: FleetSyncRun['state'], stoppedAt: FleetSyncRun['stoppedAt']) => {
      current.state = state;
      current.stoppedAt = stoppedAt;
      current.finishedAt = now().toISOString();
    };
    const step = (s: RollingSyncStep) => current.steps.push({ ...s, at: now().toISOString() });
    try {
      const nodes = await options.fleet.nodes();
      const clients = fleetClients(nodes, { actor: (node) => fleetActor(current.startedBy, node.name), fetch: options.fetch });
      const result = await rollingSync(clients, step);
      current.upgraded = result.upgraded;
      finish(result.ok ? 'done' : 'stopped', result.ok ? null : result.stoppedAt);
    } catch (error) {
      // The fleet file did not read, or something unforeseen: said, never left "running".
      const reason = describeFailure(error);
      step({ kind: 'stopped', node: null, pool: null, message: `fleet sync stopped: ${reason}` });
      finish('stopped', { node: null, pool: null, reason });
    }
  }

  return {
    current: () => run,
    start(user) {
      if (run !== null && run.state === 'running') return { started: false, run };
      const fresh: FleetSyncRun = {
        id: nextId++,
        startedBy: user,
        startedAt: now().toISOString(),
        finishedAt: null,
        state: 'running',
        steps: [],
        upgraded: [],
        stoppedAt: null,
      };
      run = fresh;
      ending = execute(fresh);
      return { started: true, run: fresh };
    },
    settled: () => ending,
  };
}
