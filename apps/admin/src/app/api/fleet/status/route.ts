import { fleetSource } from '@/server/fleet';
import { createFleetStatusRoute } from '@/server/fleet-routes';
import { sessionFromRequest } from '@/server/session';

// Every node's live state: never cached or prerendered.
export const dynamic = 'force-dynamic';

const status = createFleetStatusRoute({ fleet: fleetSource(), getSession: sessionFromRequest });

export function GET(request: Request): Promise<Response> {
  return status(request);
}
