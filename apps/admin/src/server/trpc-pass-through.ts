import 'server-only';
import { type ControlConnection, ControlUnavailableError, fetchWithToken } from './control-connection';
import { guardRequest } from './request-guard';
import type { ConsoleSession } from './session';

/**
 * The console's `/api/trpc/*`: the browser's tRPC calls go to the supervisor's loopback
 * control API with the bearer token and the operator's name added here, on the server, so
 * the token never reaches the browser. Responses stream through untouched, so server-sent
 * events (workers.watch, events.live) arrive as soon as the supervisor writes them. The fleet
 * view's `/api/fleet/nodes/<node>/trpc/*` is the same with a target per node (`target`).
 */

/** Which supervisor a request goes to, where its procedures are mounted here, and who acts. */
export interface PassThroughTarget {
  connection: ControlConnection;
  /** e.g. `/api/trpc/`: the procedure path is what follows it. */
  basePath: string;
  /** The actor header for this operator (each event log names who did it). */
  actor: (user: string) => string;
}

export interface PassThroughOptions {
  /** The one supervisor (the console's own). Either this or `target`. */
  connection?: ControlConnection;
  /**
   * The supervisor of this request (several nodes), checked after the login: null answers 404
   * (an unknown node). Either this or `connection`.
   */
  target?: (url: URL) => Promise<PassThroughTarget | null>;
  /** The operator behind a request, or null (then 401). Injectable for tests. */
  getSession: (request: Request) => Promise<ConsoleSession | null>;
  /** Where the procedures are mounted on this origin, with `connection`. Default `/api/trpc/`. */
  basePath?: string;
  /** The upstream fetch. Default: the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Trusted proxies in front (for X-Forwarded-Host). Default: `HANDOVER_ADMIN_TRUST_PROXY`, read per request. */
  trustedProxyHops?: number;
  /**
   * How often an open event stream checks that its session is still live (default 5 s): a
   * stream opened before a logout ends at most this long after it.
   */
  sessionRecheckMs?: number;
}

/** Request headers that mean something to tRPC; everything else (cookies!) stays here. */
const FORWARDED_REQUEST_HEADERS = ['content-type', 'accept', 'last-event-id', 'trpc-accept'] as const;
/** Response headers the browser needs; hop-by-hop and length headers are the runtime's business. */
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'cache-control'] as const;
/** A procedure path, or a batch of them (`workers.list,pools.list`). */
const PROCEDURE_PATH = /^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$/;
/** Bigger than any input the API accepts. */
const MAX_BODY_BYTES = 1024 * 1024;

type ErrorCode = 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'PAYLOAD_TOO_LARGE' | 'SERVICE_UNAVAILABLE' | 'METHOD_NOT_SUPPORTED';

/** JSON-RPC codes tRPC uses for these, so the tRPC client reads our errors like its own. */
const RPC_CODES: Record<ErrorCode, number> = {
  UNAUTHORIZED: -32001,
  FORBIDDEN: -32003,
  NOT_FOUND: -32004,
  METHOD_NOT_SUPPORTED: -32005,
  PAYLOAD_TOO_LARGE: -32013,
  SERVICE_UNAVAILABLE: -32603,
};

/** An error in tRPC's shape (`{"error":{message, code, data:{code, httpStatus, path}}}`). */
export function trpcErrorResponse(status: number, code: ErrorCode, message: string, path: string | null = null): Response {
  return Response.json(
    { error: { message, code: RPC_CODES[code], data: { code, httpStatus: status, path } } },
    { status, headers: { 'cache-control': 'no-store' } },
  );
}

export function createPassThrough(options: PassThroughOptions): (request: Request) => Promise<Response> {
  const upstreamFetch = options.fetch ?? globalThis.fetch;
  const single: PassThroughTarget | null =
    options.connection === undefined
      ? null
      : { connection: options.connection, basePath: options.basePath ?? '/api/trpc/', actor: (user) => `console:${user}` };
  const targetOf = options.target ?? (async () => single);

  return async function passThrough(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const guard = await guardRequest(request, options);
    if ('refused' in guard) {
      return trpcErrorResponse(guard.refused, guard.refused === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', guard.message, null);
    }
    const { session } = guard;
    const target = await targetOf(url);
    if (target === null) return trpcErrorResponse(404, 'NOT_FOUND', 'no such node in the fleet file', null);
    const { connection, basePath } = target;
    const path = url.pathname.startsWith(basePath) ? safeDecode(url.pathname.slice(basePath.length)) : '';
    if (request.method !== 'GET' && request.method !== 'POST') {
      return trpcErrorResponse(405, 'METHOD_NOT_SUPPORTED', 'use GET or POST', path || null);
    }
    if (!PROCEDURE_PATH.test(path)) {
      return trpcErrorResponse(404, 'NOT_FOUND', `no such procedure: ${JSON.stringify(path)}`, null);
    }

    // Read the body once so the request can be replayed after a 401 (new token). tRPC bodies
    // are small JSON documents; streaming them would gain nothing.
    let body: string | undefined;
    if (request.method === 'POST') {
      body = await request.text();
      if (body.length > MAX_BODY_BYTES) {
        return trpcErrorResponse(413, 'PAYLOAD_TOO_LARGE', 'request body too large', path);
      }
    }

    const headers = new Headers();
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    // Only these two identify the caller upstream, and only the server sets them: whatever
    // `authorization` or `x-handover-*` the browser sent was never copied above.
    headers.set('x-handover-actor', target.actor(session.user));

    let upstream: Response;
    try {
      upstream = await fetchWithToken(connection, (target) => {
        headers.set('authorization', `Bearer ${target.token}`);
        return upstreamFetch(`${target.url}trpc/${encodeURI(path)}${url.search}`, {
          method: request.method,
          headers,
          body,
          // The browser going away (tab closed, EventSource closed) ends the upstream request,
          // so the supervisor stops producing events for nobody.
          signal: request.signal,
          redirect: 'manual',
          cache: 'no-store',
        });
      });
    } catch (error) {
      if (request.signal.aborted) return new Response(null, { status: 499 });
      return unavailable(error, connection, path);
    }

    const responseHeaders = new Headers();
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = upstream.headers.get(name);
      if (value !== null) responseHeaders.set(name, value);
    }
    if (!responseHeaders.has('cache-control')) responseHeaders.set('cache-control', 'no-store');
    if (upstream.headers.get('content-type')?.startsWith('text/event-stream')) {
      // Tell any reverse proxy in front of the console not to buffer the stream either.
      responseHeaders.set('x-accel-buffering', 'no');
      responseHeaders.set('cache-control', 'no-cache, no-transform');
      if (upstream.body !== null) {
        const body = endWhenLoggedOut(upstream.body, () => options.getSession(request), options.sessionRecheckMs ?? 5000);
        return new Response(body, { status: upstream.status, statusText: upstream.statusText, headers: responseHeaders });
      }
    }
    return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: responseHeaders });
  };
}

/**
 * An event stream lives as long as the browser keeps it open, so its session is checked again
 * every `everyMs`: once it is over (logout, expiry), the stream ends and the upstream request
 * with it. The browser's EventSource then reconnects and gets a 401.
 */
function endWhenLoggedOut(
  upstream: ReadableStream<Uint8Array>,
  session: () => Promise<ConsoleSession | null>,
  everyMs: number,
): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  let timer: ReturnType<typeof setInterval> | undefined;
  let done = false;
  const finish = () => {
    done = true;
    if (timer !== undefined) clearInterval(timer);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      timer = setInterval(() => {
        void session()
          .catch(() => null)
          .then((current) => {
            if (current !== null || done) return;
            finish();
            void reader.cancel('the console session ended').catch(() => {});
            try {
              controller.close();
            } catch {
              // already closed or errored
            }
          });
      }, everyMs);
      timer.unref?.();
    },
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (done) return;
        if (chunk.done) {
          finish();
          controller.close();
        } else {
          controller.enqueue(chunk.value);
        }
      } catch (error) {
        if (done) return;
        finish();
        controller.error(error);
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
}

async function unavailable(error: unknown, connection: ControlConnection, path: string): Promise<Response> {
  if (error instanceof ControlUnavailableError) {
    return trpcErrorResponse(503, 'SERVICE_UNAVAILABLE', error.message, path);
  }
  const where = (await connection.describe()) ?? 'its control address';
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (error as Error).message;
  return trpcErrorResponse(
    503,
    'SERVICE_UNAVAILABLE',
    `the supervisor is not answering on ${where} (${reason}); start it with \`npm start\``,
    path,
  );
}

/** A malformed escape (`%E0%A4%A`) is no procedure: an empty path, refused as such. */
function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return '';
  }
}
