import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import type { SupervisorControl } from './contract';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import type { AnySchema } from '@handover/validation';
import { EVENTS_EXPORT_PATH, serveEventsExport } from './events-export-route';
import { SUBSCRIPTION_INPUTS, appRouter } from './router';
import { describeInputError } from './schemas';
import { SESSION_REPORTS_PATH, type SessionReportReceiver, handleSessionReport } from './session-reports-route';
import type { InputIssue } from './schemas';
import { UNAUTHORIZED_MESSAGE } from './trpc';
import type { ControlContext } from './trpc';

type ProcedureType = 'query' | 'mutation' | 'subscription';

/**
 * The methods each kind of procedure is called with: queries by GET (and POST, tRPC's
 * `allowMethodOverride`, handy with curl), mutations by POST, subscriptions by GET (what
 * EventSource sends). Anything else gets a 405 here: tRPC itself answers TRACE with a 500
 * (undici's `Request` refuses to build it), HEAD with an empty 204, PUT/PATCH/DELETE with a
 * 415, and a POST to a subscription with an open event stream.
 */
const METHODS_BY_TYPE: Record<ProcedureType, readonly string[]> = {
  query: ['GET', 'POST'],
  mutation: ['POST'],
  subscription: ['GET'],
};
const HEALTHZ_METHODS = ['GET', 'HEAD'];
/** Every method answered somewhere: the `Allow` of a CONNECT, which names no resource of ours. */
export const SERVER_METHODS = 'GET, HEAD, POST';
/** Bodies larger than this get a 413 (from tRPC, which stops reading there). */
const MAX_BODY_BYTES = 1024 * 1024;

/** The header naming who performs an operation (shown in the event log). */
export const ACTOR_HEADER = 'x-handover-actor';
export const DEFAULT_ACTOR = 'api';
export const MAX_ACTOR_LENGTH = 64;
/** Where the tRPC procedures are served: `/trpc/workers.list`. */
export const TRPC_PATH = '/trpc';

export interface ControlHandlerOptions {
  supervisor: SupervisorControl;
  /** The bearer token every procedure but `health` requires. */
  token: string;
  /** Where unexpected (INTERNAL_SERVER_ERROR) failures are logged. Default: stderr. */
  log?: (line: string) => void;
  /** Takes workers' session reports at `POST /session-reports/<worker>` (their own token, not this one). */
  sessionReports?: SessionReportReceiver;
  /** The Prometheus text exposition for `GET /metrics` (bearer token required); 404 without. */
  metrics?: () => Promise<string>;
  /**
   * `GET /node-health`, without a token, for the front (HAProxy `http-check disable-on-404`):
   * 200 takes new clients, 404 drained or every pool errored; the body says which.
   */
  nodeHealth?: () => { status: number; body: unknown };
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Compares `Authorization` with `Bearer <token>` in constant time: both sides are hashed to
 * 32 bytes first, so neither the content nor the length of the token leaks through timing.
 */
export function createTokenCheck(token: string): (authorization: string | undefined) => boolean {
  if (token.length === 0) throw new Error('the control token must not be empty');
  const expected = digest(`Bearer ${token}`);
  return (authorization) => {
    if (typeof authorization !== 'string') return false;
    return timingSafeEqual(digest(authorization.trim()), expected);
  };
}

/** `X-Handover-Actor`, trimmed, without control characters, at most 64 characters; `api` if empty. */
export function parseActor(header: string | string[] | undefined): string {
  const raw = Array.isArray(header) ? header[0] : header;
  if (typeof raw !== 'string') return DEFAULT_ACTOR;
  const clean = raw
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .trim()
    .slice(0, MAX_ACTOR_LENGTH)
    .trim();
  return clean === '' ? DEFAULT_ACTOR : clean;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** An error in tRPC's own shape, so the typed client reads the ones answered here like its own. */
function sendTrpcError(
  res: ServerResponse,
  status: number,
  code: TRPC_ERROR_CODE_KEY,
  message: string,
  path: string | null,
  extra: { headers?: Record<string, string>; issues?: InputIssue[] } = {},
): void {
  const data = { code, httpStatus: status, path, ...(extra.issues === undefined ? {} : { issues: extra.issues }) };
  sendJson(res, status, { error: { message, code: TRPC_ERROR_CODES_BY_KEY[code], data } }, extra.headers);
}

function procedureType(path: string): ProcedureType | null {
  // Typed as the nested record, but at run time keyed by the full dotted path ('workers.list').
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: ProcedureType } } | undefined>;
  // Own properties only: `/trpc/constructor` must not find Object.prototype's.
  return Object.hasOwn(procedures, path) ? (procedures[path]?._def.type ?? null) : null;
}

/** The methods a call (a batch: all of its procedures) takes; null if a procedure is unknown. */
function allowedMethods(types: ReadonlyArray<ProcedureType | null>): string[] | null {
  if (types.some((type) => type === null)) return null;
  return ['GET', 'POST'].filter((method) => types.every((type) => METHODS_BY_TYPE[type!].includes(method)));
}

/**
 * `curl -d '{"worker":"web@0"}'` sends `application/x-www-form-urlencoded` and fetch with a
 * string body sends `text/plain`; tRPC would answer 415 to both. The API only takes JSON, so
 * such bodies are read as JSON (a body that is not JSON still gets a 400).
 */
function treatBodyAsJson(req: IncomingMessage): void {
  const length = req.headers['content-length'];
  if (length === '0' || (length === undefined && req.headers['transfer-encoding'] === undefined)) {
    // No body at all (a mutation called without input): tRPC 11.22 would fail to parse the
    // empty text, so hand it an empty object, which every optional input accepts.
    (req as IncomingMessage & { body?: string }).body = '{}';
  }
  const type = mediaType(req);
  if (type === '' || type === 'text/plain' || type === 'application/x-www-form-urlencoded') {
    req.headers['content-type'] = 'application/json';
  }
}

const mediaType = (req: IncomingMessage): string =>
  (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();

/**
 * The input a subscription's procedure will see, built the way tRPC 11.22 builds it
 * (`getRequestInfo` in `http/contentType.ts`): `?input=` as JSON, with `Last-Event-ID` (the
 * header, else `?lastEventId=` or `?Last-Event-Id=`) merged in as `lastEventId`. Throws
 * SyntaxError when `?input=` is not JSON.
 */
function subscriptionInput(req: IncomingMessage, params: URLSearchParams): unknown {
  const text = params.get('input');
  let input: unknown = text ? JSON.parse(text) : undefined;
  const header = req.headers['last-event-id'];
  const lastEventId = header ?? params.get('lastEventId') ?? params.get('Last-Event-Id');
  if (lastEventId) {
    if (typeof input === 'object' && input !== null && !Array.isArray(input)) input = { ...input, lastEventId };
    else input ??= { lastEventId };
  }
  return input;
}

export const METRICS_PATH = '/metrics';
/** Where a fleet's front asks whether this node takes new clients (apps/supervisor/src/node-drain.ts). */
export const NODE_HEALTH_PATH = '/node-health';
const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** `GET /metrics`: what Prometheus scrapes, with the control token (`authorization` in its scrape config). */
function serveMetrics(
  req: IncomingMessage,
  res: ServerResponse,
  checkToken: (authorization: string | undefined) => boolean,
  metrics: (() => Promise<string>) | undefined,
  log: (line: string) => void,
): void {
  const method = req.method ?? 'GET';
  if (metrics === undefined) return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'no metrics are served here' } });
  if (method !== 'GET' && method !== 'HEAD') {
    return sendJson(res, 405, { error: { code: 'METHOD_NOT_SUPPORTED', message: 'use GET /metrics' } }, { Allow: 'GET, HEAD' });
  }
  if (!checkToken(req.headers.authorization)) {
    return sendJson(res, 401, { error: { code: 'UNAUTHORIZED', message: UNAUTHORIZED_MESSAGE } }, { 'WWW-Authenticate': 'Bearer realm="handover"' });
  }
  metrics().then(
    (text) => {
      res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
      res.end(method === 'HEAD' ? undefined : text);
    },
    (error: unknown) => {
      log(`[control-api] /metrics failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      sendJson(res, 500, { error: { code: 'INTERNAL_SERVER_ERROR', message: 'the metrics could not be gathered; see the supervisor log' } });
    },
  );
}

/**
 * The control API as a `node:http` request listener:
 * - `GET /healthz` → 200 `{"ok":true}`, no token needed;
 * - `POST /session-reports/<worker>` → a worker's session reports, with that worker's token;
 * - `GET /metrics` → Prometheus metrics, bearer token required;
 * - `GET /node-health` → 200 or 404 for the front in a fleet (no token; nothing secret);
 * - `GET /events.ndjson` → the event log as JSON lines (filters in the query), bearer token required;
 * - `/trpc/<procedure>` → the tRPC router (bearer token required except for `health`), after
 *   the checks tRPC does not make or makes late: the method (405 with `Allow`), the content
 *   type (JSON only, 415), a subscription's token and input (401/400 before the stream opens);
 * - anything else → 404 JSON.
 */
export function createControlHandler(
  options: ControlHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { supervisor } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const checkToken = createTokenCheck(options.token);

  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: `${TRPC_PATH}/`,
    // Queries may be POSTed too (handy with curl); there are no cookies, so no CSRF concern.
    allowMethodOverride: true,
    maxBatchSize: 50,
    maxBodySize: MAX_BODY_BYTES,
    createContext: ({ req }): ControlContext => {
      const authorized = checkToken(req.headers.authorization);
      return {
        supervisor,
        authorized,
        actor: authorized ? parseActor(req.headers[ACTOR_HEADER]) : null,
      };
    },
    onError: ({ error, path }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') {
        const detail = error.cause instanceof Error ? (error.cause.stack ?? error.cause.message) : error.message;
        log(`[control-api] ${path ?? '?'} failed: ${detail}`);
      }
    },
  });

  return (req, res) => {
    const target = req.url ?? '/';
    const queryAt = target.indexOf('?');
    const pathname = queryAt === -1 ? target : target.slice(0, queryAt);
    const params = new URLSearchParams(queryAt === -1 ? '' : target.slice(queryAt + 1));
    const method = req.method ?? 'GET';

    if (pathname === '/healthz') {
      if (!HEALTHZ_METHODS.includes(method)) {
        sendJson(
          res,
          405,
          { error: { code: 'METHOD_NOT_SUPPORTED', message: 'use GET /healthz' } },
          { Allow: HEALTHZ_METHODS.join(', ') },
        );
        return;
      }
      sendJson(res, 200, { ok: true });
      return;
    }
    if (pathname === NODE_HEALTH_PATH && options.nodeHealth !== undefined) {
      if (!HEALTHZ_METHODS.includes(method)) {
        sendJson(res, 405, { error: { code: 'METHOD_NOT_SUPPORTED', message: `use GET ${NODE_HEALTH_PATH}` } }, { Allow: HEALTHZ_METHODS.join(', ') });
        return;
      }
      const health = options.nodeHealth();
      sendJson(res, health.status, health.body);
      return;
    }
    if (pathname === METRICS_PATH) {
      serveMetrics(req, res, checkToken, options.metrics, log);
      return;
    }
    if (pathname === EVENTS_EXPORT_PATH) {
      serveEventsExport(req, res, params, checkToken, supervisor);
      return;
    }
    if (pathname.startsWith(SESSION_REPORTS_PATH)) {
      handleSessionReport(req, res, pathname, options.sessionReports);
      return;
    }
    if (!pathname.startsWith(`${TRPC_PATH}/`) || pathname.length === TRPC_PATH.length + 1) {
      sendJson(res, 404, {
        error: {
          code: 'NOT_FOUND',
          message: `no such endpoint: ${pathname} (procedures are under ${TRPC_PATH}/, health at /healthz)`,
        },
      });
      return;
    }

    let path: string;
    try {
      path = decodeURIComponent(pathname.slice(TRPC_PATH.length + 1));
    } catch {
      sendTrpcError(res, 400, 'BAD_REQUEST', 'the procedure path is not valid URL encoding', null);
      return;
    }
    const batch = params.get('batch') === '1';
    const types = (batch ? path.split(',') : [path]).map(procedureType);
    const allowed = allowedMethods(types);
    if (allowed === null) {
      sendTrpcError(res, 404, 'NOT_FOUND', `no such procedure: ${path}`, path);
      return;
    }
    if (!allowed.includes(method)) {
      const allow = allowed.join(', ');
      const message = allowed.length === 0 ? `no method takes ${path} in one batch` : `${method} is not allowed on ${path}: use ${allow}`;
      sendTrpcError(res, 405, 'METHOD_NOT_SUPPORTED', message, path, { headers: { Allow: allow } });
      return;
    }
    if (method === 'POST') {
      treatBodyAsJson(req);
      // tRPC would also take multipart/form-data and octet streams as input; this API takes JSON.
      if (mediaType(req) !== 'application/json') {
        sendTrpcError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'send the input as JSON (Content-Type: application/json)', path);
        return;
      }
    }

    if (types.includes('subscription')) {
      // tRPC opens the event stream (200) and only then sends errors inside it; a plain 401 or
      // 400 is what curl, EventSource (which then stops retrying) and proxies understand.
      if (!checkToken(req.headers.authorization)) {
        sendTrpcError(res, 401, 'UNAUTHORIZED', UNAUTHORIZED_MESSAGE, path);
        return;
      }
      if (batch) {
        sendTrpcError(res, 400, 'BAD_REQUEST', 'subscriptions cannot be batched', path);
        return;
      }
      const schema: AnySchema | undefined = SUBSCRIPTION_INPUTS[path as keyof typeof SUBSCRIPTION_INPUTS];
      let input: unknown;
      try {
        input = subscriptionInput(req, params);
      } catch {
        sendTrpcError(res, 400, 'BAD_REQUEST', 'invalid input: ?input= is not JSON', path);
        return;
      }
      const parsed = schema?.safeParse(input);
      if (parsed?.success === false) {
        const { message, issues } = describeInputError(parsed.issues);
        sendTrpcError(res, 400, 'BAD_REQUEST', message, path, { issues });
        return;
      }
    }
    // Server-sent events must reach the client as soon as they are written.
    req.socket.setNoDelay(true);
    trpc(req, res);
  };
}
