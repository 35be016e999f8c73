/**
 * `POST /session-reports/<worker id>`: the side channel workers use for session reports no
 * response can carry (see apps/supervisor/src/session-report-channel.ts). The body is the
 * X-Handover-Session syntax as text; the worker's own token authorizes it. Small and strict: a
 * worker posts a few lines, so anything large or slow is refused.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const SESSION_REPORTS_PATH = '/session-reports/';
/** A report body larger than this gets a 413. */
export const MAX_REPORT_BYTES = 64 * 1024;

/** The supervisor's end; each step answers an HTTP status (204 = go on). */
export interface SessionReportReceiver {
  /** The worker's own token, and a worker that serves sessions now: 204, 401 or 404. */
  authorize(workerId: string, authorization: string | undefined): number;
  /** Applies the reports: 204, 400 (not the syntax) or 404 (the worker ended meanwhile). */
  apply(workerId: string, body: string): number;
}

const MESSAGES: Record<number, string> = {
  400: 'the body is not in the X-Handover-Session syntax: <id>[; ttl=<seconds>][, …]',
  401: 'a worker reports with its own HANDOVER_REPORT_TOKEN: Authorization: Bearer <token>',
  404: 'no worker by that id serves sessions now',
};

function answer(res: ServerResponse, status: number, message?: string, headers: Record<string, string> = {}): void {
  if (status === 204) {
    res.writeHead(204, { 'Cache-Control': 'no-store' });
    res.end();
    return;
  }
  const text = JSON.stringify({ error: { message: message ?? MESSAGES[status] ?? 'refused' } });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function handleSessionReport(req: IncomingMessage, res: ServerResponse, pathname: string, receive: SessionReportReceiver | undefined): void {
  if (receive === undefined) return answer(res, 404, 'session reports are not taken here');
  if (req.method !== 'POST') return answer(res, 405, 'POST the reports', { Allow: 'POST' });
  let workerId: string;
  try {
    workerId = decodeURIComponent(pathname.slice(SESSION_REPORTS_PATH.length));
  } catch {
    return answer(res, 400, 'the worker id is not valid URL encoding');
  }
  // Refused before the body is read: a bad token costs nothing.
  const check = receive.authorize(workerId, req.headers.authorization);
  if (check !== 204) return answer(res, check);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_REPORT_BYTES) {
    res.setHeader('Connection', 'close');
    return answer(res, 413, `at most ${MAX_REPORT_BYTES} bytes of reports per request`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_REPORT_BYTES) {
      res.setHeader('Connection', 'close');
      answer(res, 413, `at most ${MAX_REPORT_BYTES} bytes of reports per request`);
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    answer(res, receive.apply(workerId, Buffer.concat(chunks).toString('utf8')));
  });
  req.on('error', () => {});
}
