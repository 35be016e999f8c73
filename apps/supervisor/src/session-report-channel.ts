/**
 * The side channel for session reports no response can carry: a session a servlet ends after
 * its streamed response was committed, or one the app expires in a background thread. Each
 * worker gets `HANDOVER_REPORT_URL` (this supervisor's control port, `/session-reports/<id>`) and
 * `HANDOVER_REPORT_TOKEN`, and POSTs the X-Handover-Session syntax there.
 *
 * The token is an HMAC of the worker's id under the control token: a worker can report only for
 * itself (its token is worth nothing for another id), learns nothing of the control token, and a
 * re-adopted worker's token stays valid across supervisor restarts without being stored.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isRoutable } from '@handover/process-table';
import { applySessionReports, parseSessionReport } from '@handover/proxy';
import type { SessionReportReceiver } from '@handover/control-api/server';
import type { Runtime } from './runtime';

export const REPORT_URL_ENV = 'HANDOVER_REPORT_URL';
export const REPORT_TOKEN_ENV = 'HANDOVER_REPORT_TOKEN';
/** Where reports are posted on the control port: `/session-reports/<worker id>`. */
export const REPORT_PATH = '/session-reports/';

export class SessionReportChannel {
  /** The control API's base URL (`http://127.0.0.1:8090`), once its port is known. */
  baseUrl: string | undefined;

  constructor(private readonly key: string) {}

  tokenFor(workerId: string): string {
    return createHmac('sha256', this.key).update(`session-reports:${workerId}`).digest('base64url');
  }

  /** The variables a worker is started with; none until the control API's address is known. */
  envFor(workerId: string): Record<string, string> {
    if (this.baseUrl === undefined) return {};
    return {
      [REPORT_URL_ENV]: `${this.baseUrl}${REPORT_PATH}${encodeURIComponent(workerId)}`,
      [REPORT_TOKEN_ENV]: this.tokenFor(workerId),
    };
  }

  /** `Authorization: Bearer <that worker's token>`, compared in constant time. */
  authorizes(workerId: string, authorization: string | undefined): boolean {
    if (typeof authorization !== 'string') return false;
    const expected = Buffer.from(`Bearer ${this.tokenFor(workerId)}`);
    const given = Buffer.from(authorization.trim());
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/** The worker a report names, when it may serve sessions now (started or detached). */
function reportingWorker(rt: Runtime, workerId: string) {
  const worker = rt.table.find(workerId);
  const pool = worker === undefined ? undefined : rt.pools.get(worker.pool);
  return worker === undefined || pool === undefined || !isRoutable(worker.state) ? undefined : { worker, pool };
}

/** The control API's receiver: that worker's own token, then its reports applied to its pool's table. */
export function sessionReportReceiver(rt: Runtime): SessionReportReceiver {
  return {
    authorize(workerId, authorization) {
      const channel = rt.reportChannel;
      if (channel === null || !channel.authorizes(workerId, authorization)) return 401;
      return reportingWorker(rt, workerId) === undefined ? 404 : 204;
    },
    // As if one of the worker's responses had carried them.
    apply(workerId, body) {
      const found = reportingWorker(rt, workerId);
      if (found === undefined) return 404;
      const reports = parseSessionReport(body);
      if (reports.length === 0 && body.trim() !== '') return 400;
      applySessionReports(found.pool.route, found.worker, reports);
      return 204;
    },
  };
}
