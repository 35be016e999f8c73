import { initTRPC, StandardSchemaV1Error, TRPCError } from '@trpc/server';
import { ControlError, type ControlErrorCode, type SupervisorControl } from './contract';
import { describeInputError } from './schemas';

/** What every control API call sees. Built per request by the HTTP handler in `server.ts`. */
export interface ControlContext {
  supervisor: SupervisorControl;
  /** Who is calling (`X-Handover-Actor`, default `api`); null when not authorized. */
  actor: string | null;
  /** Whether the request carried the right bearer token. */
  authorized: boolean;
}

/** Keep-alive comment on SSE streams so proxies and clients see the connection is alive. */
export const SSE_PING_INTERVAL_MS = 15_000;

const t = initTRPC.context<ControlContext>().create({
  // No transformer: plain JSON on the wire, so curl and any language can call the API.
  isDev: false, // never put stack traces in responses
  sse: {
    ping: { enabled: true, intervalMs: SSE_PING_INTERVAL_MS },
    // Clients reconnect (with Last-Event-ID) when they miss two pings in a row.
    client: { reconnectAfterInactivityMs: SSE_PING_INTERVAL_MS * 2 + 5_000 },
  },
  errorFormatter({ shape, error }) {
    // An input its schema rejected: tRPC wraps the schema's issues in a StandardSchemaV1Error.
    if (error.code === 'BAD_REQUEST' && error.cause instanceof StandardSchemaV1Error) {
      const { message, issues } = describeInputError(error.cause.issues);
      return { ...shape, message, data: { ...shape.data, issues } };
    }
    return shape;
  },
});

const CONTROL_CODES: ReadonlySet<string> = new Set<ControlErrorCode>([
  'NOT_FOUND',
  'PRECONDITION_FAILED',
  'BAD_REQUEST',
  'CONFLICT',
]);

function asControlError(error: unknown): { code: ControlErrorCode; message: string } | null {
  if (error instanceof ControlError) return error;
  // Tolerate a second copy of the class (two module instances): match by shape.
  if (
    error instanceof Error &&
    error.name === 'ControlError' &&
    CONTROL_CODES.has((error as { code?: unknown }).code as string)
  ) {
    return error as unknown as ControlError;
  }
  return null;
}

/**
 * The one place a supervisor's `ControlError` becomes a `TRPCError` with the same code (and so
 * the right HTTP status: 404, 412, 400, 409). Anything else stays INTERNAL_SERVER_ERROR.
 */
const mapControlErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const control = asControlError(result.error.cause);
    if (control !== null) {
      throw new TRPCError({ code: control.code, message: control.message, cause: result.error.cause });
    }
  }
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** No token needed (only `health`). */
export const publicProcedure = t.procedure.use(mapControlErrors);

export const UNAUTHORIZED_MESSAGE =
  'missing or wrong control token (send the header Authorization: Bearer <control token>)';

/** Needs the bearer token; `ctx.actor` is a string inside. */
export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.authorized || ctx.actor === null) {
    throw new TRPCError({
      code: 'UNAUTHORIZED',
      message: UNAUTHORIZED_MESSAGE,
    });
  }
  return next({ ctx: { ...ctx, actor: ctx.actor } });
});
