'use client';

import type { SessionSample, WorkerInfo } from '@handover/process-table';
import { seriesByWorker, stepPath, workerColour } from '@/lib/chart';
import { formatAbsolute, formatDuration, plural } from '@/lib/format';
import { useNow } from '@/hooks/use-now';

const W = 160;
const H = 40;

/**
 * A detached worker's drain: what is left, since when, and a sparkline of its sessions
 * falling since the detach, so the operator can tell "slowly emptying" from "stuck".
 */
export function DrainCard({ worker, samples }: { worker: WorkerInfo; samples: SessionSample[] }) {
  const now = useNow();
  const detachedAt = worker.detachedAt === null ? null : Date.parse(worker.detachedAt);
  const deadline = worker.drainDeadline == null ? null : Date.parse(worker.drainDeadline);
  const since = detachedAt ?? now;
  const points = (seriesByWorker(samples).get(worker.id) ?? []).flat().filter((p) => p.t >= since - 2000);
  const max = Math.max(1, ...points.map((p) => p.v), worker.sessions);
  const span = Math.max(1, now - since);
  const x = (t: number) => ((Math.max(t, since) - since) / span) * (W - 2) + 1;
  const y = (v: number) => H - 3 - (v / max) * (H - 10);
  const left = [
    plural(worker.sessions, 'session'),
    worker.inFlight > 0 ? plural(worker.inFlight, 'request') : null,
    worker.webSockets > 0 ? plural(worker.webSockets, 'WebSocket') : null,
  ]
    .filter(Boolean)
    .join(', ');

  return (
    <div className="drain" data-testid={`drain-${worker.id}`}>
      <div className="drain-text">
        <span className="drain-left">
          <strong data-testid={`drain-left-${worker.id}`}>{left}</strong> left
        </span>
        <span className="muted small">
          detached{' '}
          {detachedAt === null ? '' : (
            <time dateTime={worker.detachedAt ?? undefined} title={formatAbsolute(detachedAt)}>
              {formatDuration(now - detachedAt)} ago
            </time>
          )}
          ; stops by itself when nothing is left
          {deadline === null ? (
            '; no deadline (drain.maxSeconds is null)'
          ) : (
            <>
              , at the latest{' '}
              <time dateTime={worker.drainDeadline ?? undefined} title={formatAbsolute(deadline)} data-testid={`drain-deadline-${worker.id}`}>
                in {formatDuration(Math.max(0, deadline - now))}
              </time>{' '}
              (drain.maxSeconds)
            </>
          )}
        </span>
      </div>
      <div className="drain-chart">
        <svg width={W} height={H} className="sparkline" role="img" aria-label={`${worker.id} sessions since detach, now ${worker.sessions}`}>
          <line x1={0} x2={W} y1={H - 2} y2={H - 2} className="chart-axis" />
          <path d={stepPath(points, x, y, now)} fill="none" stroke={workerColour(worker.id)} strokeWidth={2} />
        </svg>
        <span className="muted small">sessions since detach (peak {max})</span>
      </div>
    </div>
  );
}
