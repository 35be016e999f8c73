import { controlConnection } from '@/server/control-connection';
import { sessionFromRequest } from '@/server/session';
import { createPassThrough } from '@/server/trpc-pass-through';

// Every call is live state from the supervisor: never cache, never prerender.
export const dynamic = 'force-dynamic';

const passThrough = createPassThrough({ connection: controlConnection(), getSession: sessionFromRequest });

export function GET(request: Request): Promise<Response> {
  return passThrough(request);
}

export function POST(request: Request): Promise<Response> {
  return passThrough(request);
}
