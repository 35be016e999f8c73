import { fleetSource } from '@/server/fleet';
import { createFleetPassThrough } from '@/server/fleet-pass-through';
import { sessionFromRequest } from '@/server/session';

// Live state of one node of the fleet: never cache, never prerender.
export const dynamic = 'force-dynamic';

const passThrough = createFleetPassThrough({ fleet: fleetSource(), getSession: sessionFromRequest });

export function GET(request: Request): Promise<Response> {
  return passThrough(request);
}

export function POST(request: Request): Promise<Response> {
  return passThrough(request);
}
