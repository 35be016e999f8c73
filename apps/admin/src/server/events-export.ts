import 'server-only';
import { ControlUnavailableError, type ControlConnection, fetchWithToken } from './control-connection';
import { guardRequest, plainError as plain } from './request-guard';
import type { ConsoleSession } from './session';

/**
 * The console's `/api/events.ndjson` (#10, item 9): the supervisor's event export
 * (`GET /events.ndjson`, JSON lines, oldest first) downloaded by a logged-in operator, with the
 * bearer token added here. Only the export's own filters pass; the body streams through.
 */
const PARAMS = ['worker', 'pool', 'type', 'actor', 'afterId'] as const;

export interface EventsExportOptions {
  connection: ControlConnection;
  getSession: (request: Request) => Promise<ConsoleSession | null>;
  fetch?: typeof globalThis.fetch;
  trustedProxyHops?: number;
}

export function createEventsExport(options: EventsExportOptions): (request: Request) => Promise<Response> {
  const upstreamFetch = options.fetch ?? globalThis.fetch;
  return async (request) => {
    const guard = await guardRequest(request, options);
    if ('refused' in guard) return plain(guard.refused, guard.message);
    const query = new URLSearchParams();
    for (const [key, value] of new URL(request.url).searchParams) {
      if (!(PARAMS as readonly string[]).includes(key)) return plain(400, `unknown parameter: ${key}`);
      if (value !== '') query.append(key, value);
    }
    let upstream: Response;
    try {
      upstream = await fetchWithToken(options.connection, (target) =>
        upstreamFetch(`${target.url}events.ndjson${query.size > 0 ? `?${query}` : ''}`, {
          headers: { authorization: `Bearer ${target.token}` },
          signal: request.signal,
          redirect: 'manual',
          cache: 'no-store',
        }),
      );
    } catch (error) {
      if (request.signal.aborted) return new Response(null, { status: 499 });
      if (error instanceof ControlUnavailableError) return plain(503, error.message);
      return plain(503, `the supervisor is not answering (${(error as Error).message})`);
    }
    const headers = new Headers({ 'cache-control': 'no-store' });
    for (const name of ['content-type', 'content-disposition']) {
      const value = upstream.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    if (upstream.ok && !headers.has('content-disposition')) headers.set('content-disposition', 'attachment; filename="handover-events.ndjson"');
    return new Response(upstream.body, { status: upstream.status, headers });
  };
}
