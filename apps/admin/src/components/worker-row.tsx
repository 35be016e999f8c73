'use client';

import type { PoolInfo, SessionSample, WorkerInfo } from '@handover/process-table';
import { formatAbsolute, formatDuration, formatMegabytes, stripAnsi } from '@/lib/format';
import { splitMessage } from '@/lib/outcomes';
import { appSessionsView, isRunning } from '@/lib/workers';
import { useNow } from '@/hooks/use-now';
import { useWorkerActions } from '@/hooks/use-worker-actions';
import { DrainCard } from './drain-card';
import { StateBadge } from './state-badge';
import { WorkerActions, WorkerFeedback } from './worker-actions';

/** Uptime ticks while the worker runs and freezes at its stop. */
function Uptime({ worker }: { worker: WorkerInfo }) {
  const now = useNow();
  const from = worker.readyAt ?? worker.startedAt;
  if (from === null) return <>–</>;
  const end = isRunning(worker) || worker.stoppedAt === null ? now : Date.parse(worker.stoppedAt);
  return (
    <time dateTime={from} title={`since ${formatAbsolute(Date.parse(from))}`}>
      {formatDuration(end - Date.parse(from))}
    </time>
  );
}

export function WorkerRow({
  worker,
  pool,
  poolWorkers,
  samples,
  hidden = false,
}: {
  worker: WorkerInfo;
  pool: PoolInfo | undefined;
  poolWorkers: readonly WorkerInfo[];
  samples: SessionSample[];
  /** Folded away with the other ended workers (still in the DOM, out of sight). */
  hidden?: boolean;
}) {
  const ended = !isRunning(worker);
  const id = worker.id;
  const app = appSessionsView(worker, pool);
  const actions = useWorkerActions(worker, poolWorkers);
  const why = worker.lastError !== null && (worker.state === 'failed' || worker.state === 'crashed');
  return (
    <>
      <tr className={`worker-row${ended ? ' worker-ended' : ''}`} data-testid={`worker-row-${id}`} data-state={worker.state} hidden={hidden}>
        <th scope="row" className="worker-id">
          {id}
          {worker.attached && worker.state === 'started' ? <span className="tag">new sessions</span> : null}
        </th>
        <td data-label="State">
          <StateBadge state={worker.state} testId={`worker-state-${id}`} />
          {worker.health === 'unhealthy' ? (
            <span className="tag" data-testid={`worker-health-${id}`} title="does not answer its health check">
              unhealthy
            </span>
          ) : null}
        </td>
        <td data-label="Revision" data-testid={`worker-revision-${id}`}>
          <code>{worker.revision}</code>
        </td>
        <td className="num" data-label="Sessions">
          <span data-testid={`worker-sessions-${id}`}>{worker.sessions}</span>
          {app === null ? null : (
            <span className={`app-sessions app-sessions-${app.tone}`} title={app.title} data-testid={`worker-app-sessions-${id}`} data-tone={app.tone}>
              {app.text}
            </span>
          )}
        </td>
        <td className="num" data-label="In flight" data-testid={`worker-inflight-${id}`}>
          {worker.inFlight}
        </td>
        <td className="num" data-label="WebSockets" data-testid={`worker-websockets-${id}`}>
          {worker.webSockets}
        </td>
        <td className="num" data-label="PID">
          {worker.pid ?? '–'}
        </td>
        <td className="num" data-label="Port">
          {worker.port}
        </td>
        <td className="num" data-label="Uptime">
          <Uptime worker={worker} />
        </td>
        <td className="num" data-label="Memory" data-testid={`worker-memory-${id}`}>
          {ended ? '–' : formatMegabytes(worker.memoryRss)}
        </td>
        <td className="actions-cell">
          <WorkerActions worker={worker} pool={pool} poolWorkers={poolWorkers} actions={actions} />
        </td>
      </tr>
      <tr className="worker-feedback-row" hidden={hidden}>
        <td colSpan={11}>
          <WorkerFeedback worker={worker} actions={actions} />
        </td>
      </tr>
      {worker.state === 'detached' || why ? (
        <tr className="worker-detail-row" hidden={hidden}>
          <td colSpan={11}>
            {worker.state === 'detached' ? <DrainCard worker={worker} samples={samples} /> : null}
            {why ? (
              <details className="worker-error" id={`why-${id}`} data-testid={`why-${id}`}>
                <summary>
                  Why {id} {worker.state === 'failed' ? 'failed to start' : 'crashed'}
                  {worker.exitCode !== null ? ` (exit code ${worker.exitCode})` : worker.exitSignal !== null ? ` (${worker.exitSignal})` : ''}
                  <span className="worker-error-summary">{splitMessage(worker.lastError!).summary}</span>
                </summary>
                <pre>{stripAnsi(worker.lastError!)}</pre>
              </details>
            ) : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}
