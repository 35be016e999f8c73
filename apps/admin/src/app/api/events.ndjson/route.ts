import { controlConnection } from '@/server/control-connection';
import { createEventsExport } from '@/server/events-export';
import { sessionFromRequest } from '@/server/session';

// The whole event log as JSON lines, live from the supervisor: never cached or prerendered.
export const dynamic = 'force-dynamic';

const exportEvents = createEventsExport({ connection: controlConnection(), getSession: sessionFromRequest });

export function GET(request: Request): Promise<Response> {
  return exportEvents(request);
}
