import { fleetSource } from '@/server/fleet';
import { createFleetSyncRoute } from '@/server/fleet-routes';
import { createFleetSyncRunner } from '@/server/fleet-sync-run';
import { sessionFromRequest } from '@/server/session';

// The rolling sync runs in this server process: never cached or prerendered.
export const dynamic = 'force-dynamic';

// One runner per console process, kept on globalThis so a re-evaluated module (dev reloads)
// does not lose the run under way or allow a second one.
const RUNNER = Symbol.for('handover.fleetSyncRunner');
const holder = globalThis as { [RUNNER]?: ReturnType<typeof createFleetSyncRunner> };
const runner = (holder[RUNNER] ??= createFleetSyncRunner({ fleet: fleetSource() }));

const route = createFleetSyncRoute({ fleet: fleetSource(), getSession: sessionFromRequest, runner });

export const GET = route.GET;
export const POST = route.POST;
