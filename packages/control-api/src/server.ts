import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import type { SupervisorControl } from '@handover/process-table';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { appRouter } from './router';
import { UNAUTHORIZED_MESSAGE } from './trpc';
import type { ControlContext } from './trpc';

/** Procedures served as server-sent event streams. */
const SUBSCRIPTIONS: ReadonlySet<string> = new Set(['events.live', 'workers.watch']);

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

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
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
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type === '' || type === 'text/plain' || type === 'application/x-www-form-urlencoded') {
    req.headers['content-type'] = 'application/json';
  }
}

/**
 * The control API as a `node:http` request listener:
 * - `GET /healthz` → 200 `{"ok":true}`, no token needed;
 * - `/trpc/<procedure>` → the tRPC router (bearer token required except for `health`);
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
    maxBodySize: 1024 * 1024,
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
    const pathname = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (pathname === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        sendJson(res, 405, { error: { code: 'METHOD_NOT_SUPPORTED', message: 'use GET /healthz' } });
        return;
      }
      sendJson(res, 200, { ok: true });
      return;
    }
    if (pathname.startsWith(`${TRPC_PATH}/`) && pathname.length > TRPC_PATH.length + 1) {
      // Server-sent events must reach the client as soon as they are written.
      req.socket.setNoDelay(true);
      if (req.method === 'POST') treatBodyAsJson(req);
      const procedure = pathname.slice(TRPC_PATH.length + 1);
      if (SUBSCRIPTIONS.has(procedure) && !checkToken(req.headers.authorization)) {
        // tRPC would open the event stream (200) and send the error inside it; a plain 401
        // is what curl, EventSource and proxies understand.
        sendJson(res, 401, {
          error: {
            message: UNAUTHORIZED_MESSAGE,
            code: TRPC_ERROR_CODES_BY_KEY.UNAUTHORIZED,
            data: { code: 'UNAUTHORIZED', httpStatus: 401, path: procedure },
          },
        });
        return;
      }
      trpc(req, res);
      return;
    }
    sendJson(res, 404, {
      error: {
        code: 'NOT_FOUND',
        message: `no such endpoint: ${pathname} (procedures are under ${TRPC_PATH}/, health at /healthz)`,
      },
    });
  };
}

export interface StartControlServerOptions extends ControlHandlerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** An inherited socket, already bound (by Handover's keeper), to listen on instead of binding. */
  fd?: number;
  /** Where the non-loopback warning goes. Default: stderr. */
  warn?: (line: string) => void;
}

export interface ControlServer {
  server: http.Server;
  port: number;
  /** e.g. `http://127.0.0.1:8090/` (procedures are under `${url}trpc/`). */
  url: string;
  /** Stops listening and ends open connections (including live event streams). */
  close(): Promise<void>;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

export function formatHostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export async function startControlServer(options: StartControlServerOptions): Promise<ControlServer> {
  const host = options.host ?? '127.0.0.1';
  const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (!isLoopbackHost(host)) {
    warn(
      `WARNING: the Handover control API is listening on ${host}, which is not a loopback address.\n` +
        `WARNING: anyone who can reach it and holds the control token can detach and stop workers.\n` +
        `WARNING: set control.host to 127.0.0.1 unless a firewall or TLS proxy protects it.`,
    );
  }
  const server = http.createServer(createControlHandler(options));
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve();
    };
    if (options.fd === undefined) server.listen(options.port, host, done);
    else server.listen({ fd: options.fd }, done);
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    server,
    port,
    url: `http://${formatHostForUrl(host)}:${port}/`,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Live event streams never end by themselves.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
