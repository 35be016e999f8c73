/**
 * The control API's server half (router, handler, server, contract), without the client: what
 * the supervisor loads. The client (`@trpc/client`, `eventsource`) would cost it about 9 MiB.
 */
export { ControlError, eventTypePrefix, matchesEventFilter, noSuchPool, noSuchWorker, requireDetachedToStop, requireState, truncateSessionId } from './contract';
export { EVENTS_EXPORT_PATH } from './events-export-route';
export type { ControlErrorCode, SupervisorControl } from './contract';
export { appRouter } from './router';
export type { AppRouter } from './router';
export { createCallerFactory } from './trpc';
export type { ControlContext } from './trpc';
export { ACTOR_HEADER, DEFAULT_ACTOR, METRICS_PATH, NODE_HEALTH_PATH, TRPC_PATH, createControlHandler, createTokenCheck, parseActor } from './http-handler';
export type { ControlHandlerOptions } from './http-handler';
export { MAX_REPORT_BYTES, SESSION_REPORTS_PATH } from './session-reports-route';
export type { SessionReportReceiver } from './session-reports-route';
export { isLoopbackHost, startControlServer } from './http-server';
export type { ControlServer, StartControlServerOptions } from './http-server';
export { liveEvents } from './live-events';
export { watchWorkers } from './workers-watch';
export { POOL_NAME, WORKER_ID, poolNameSchema, workerIdSchema } from './schemas';
