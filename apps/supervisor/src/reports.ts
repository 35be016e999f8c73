import type { SessionLimitInfo } from '@handover/session-table';
import { proxyFault, sessionLimit, sessionLimitMessage } from './events';
import type { Runtime } from './runtime';

/**
 * A pool's session table is full (pools[].maxSessions): once per crossing, an event and a
 * warning on stderr. Called inside a bind on the request path, so the I/O waits a tick.
 */
export function reportSessionLimit(rt: Runtime, pool: string, info: SessionLimitInfo): void {
  setImmediate(() => {
    process.stderr.write(`handover: warning: ${sessionLimitMessage(pool, info)}\n`);
    rt.record(sessionLimit(pool, info));
  });
}

/**
 * Something unexpected in a pool's proxy: a fault its guard caught (it cost one connection;
 * reported once per kind), or an error from a callback. Logged with the stack and recorded.
 */
export function reportProxyFault(rt: Runtime, pool: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`handover: proxy of pool ${pool}: ${error instanceof Error ? (error.stack ?? message) : message}\n`);
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.stack : undefined;
  rt.record(proxyFault(pool, message, cause));
}
