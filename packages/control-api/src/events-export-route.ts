import type { IncomingMessage, ServerResponse } from 'node:http';
import * as v from '@handover/validation';
import type { SupervisorControl } from './contract';
import { eventFilterOf } from './router';
import { describeInputError, eventFilterFields } from './schemas';
import { UNAUTHORIZED_MESSAGE } from './trpc';

/** `GET /events.ndjson`: the event log (or the part a filter matches) as JSON lines, oldest first. */
export const EVENTS_EXPORT_PATH = '/events.ndjson';

const PAGE = 1000;

/** The query string, every parameter optional, an unknown one a 400 (as the tRPC inputs). */
const exportQuery = v.strictObject({
  afterId: v
    .string()
    .regex(/^\d{1,15}$/, 'afterId must be an event id (digits)')
    .optional(),
  ...eventFilterFields,
});

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}, extra: object = {}): void {
  const text = JSON.stringify({ error: { code, message, ...extra } });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

/**
 * Streams every matching event, a page of 1,000 at a time and with backpressure, as one JSON
 * object per line (`application/x-ndjson`). Query: `worker`, `pool`, `type` (exact or a prefix
 * ending in `.` or `.*`), `actor`, `afterId`. The bearer token is required.
 */
export function serveEventsExport(
  req: IncomingMessage,
  res: ServerResponse,
  params: URLSearchParams,
  checkToken: (authorization: string | undefined) => boolean,
  supervisor: Pick<SupervisorControl, 'listEvents'>,
): void {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    return sendError(res, 405, 'METHOD_NOT_SUPPORTED', `use GET ${EVENTS_EXPORT_PATH}`, { Allow: 'GET, HEAD' });
  }
  if (!checkToken(req.headers.authorization)) {
    return sendError(res, 401, 'UNAUTHORIZED', UNAUTHORIZED_MESSAGE, { 'WWW-Authenticate': 'Bearer realm="handover"' });
  }
  const raw: Record<string, string> = {};
  for (const [key, value] of params) {
    if (Object.hasOwn(raw, key)) return sendError(res, 400, 'BAD_REQUEST', `invalid input: ${key} given twice`);
    raw[key] = value;
  }
  const parsed = exportQuery.safeParse(raw);
  if (!parsed.success) {
    const { message, issues } = describeInputError(parsed.issues);
    return sendError(res, 400, 'BAD_REQUEST', message, {}, { issues });
  }
  const filter = eventFilterOf(parsed.data);
  res.writeHead(200, {
    'Content-Type': 'application/x-ndjson; charset=utf-8',
    'Content-Disposition': 'attachment; filename="handover-events.ndjson"',
    'Cache-Control': 'no-store',
  });
  if (method === 'HEAD') {
    res.end();
    return;
  }
  // At most 15 digits (the schema's rule): exact as a number.
  let afterId = Number(parsed.data.afterId ?? 0);
  const writeMore = (): void => {
    for (;;) {
      if (res.destroyed) return;
      const page = supervisor.listEvents({ afterId, limit: PAGE, ...(filter === undefined ? {} : { filter }) });
      if (page.length > 0) afterId = page.at(-1)!.id;
      const ok = page.length === 0 || res.write(page.map((event) => `${JSON.stringify(event)}\n`).join(''));
      if (page.length < PAGE) {
        res.end();
        return;
      }
      if (!ok) {
        res.once('drain', writeMore);
        return;
      }
    }
  };
  writeMore();
}
