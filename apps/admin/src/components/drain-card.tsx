'use client';

import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { DrainInfo, SessionSample, WorkerInfo } from '@handover/process-table';
import { seriesByWorker, stepPath, workerColour } from '@/lib/chart';
import { formatAbsolute, formatDuration, formatRelative, plural } from '@/lib/format';
import { useNow } from '@/hooks/use-now';
import { useTRPC } from '@/trpc/react';
import { Feedback } from './feedback';
import { Modal } from './modal';
import { ConfirmFooter } from './confirm-footer';

const W = 160;
const H = 40;
/** Sessions listed on the card; the rest are counted. */
const LIST = 8;

/** What is left, in words: "2 sessions, 1 WebSocket". */
export function leftText(w: Pick<WorkerInfo, 'sessions' | 'inFlight' | 'webSockets'>): string {
  return [
    plural(w.sessions, 'session'),
    w.inFlight > 0 ? plural(w.inFlight, 'request') : null,
    w.webSockets > 0 ? plural(w.webSockets, 'WebSocket') : null,
  ]
    .filter(Boolean)
    .join(', ');
}

/** The drain's expected end, in words (DrainInfo.eta and what it rests on). */
export function etaText(drain: Pick<DrainInfo, 'eta' | 'etaBasis'>, now: number): string {
  if (drain.etaBasis === 'empty') return 'nothing left: it stops now';
  if (drain.eta === null || drain.etaBasis === 'unknown') return 'no estimate: something is in use and there is no deadline';
  const at = Date.parse(drain.eta);
  const when = at <= now ? 'any moment now' : `in about ${formatDuration(at - now)}`;
  return drain.etaBasis === 'sessions' ? `${when}, when the last idle session expires` : `${when}, at the deadline (something in use does not expire by itself)`;
}

/**
 * A detached worker's drain (#10, item 7): what is left and since when, the deadline, when it
 * should be over, the sessions left (truncated ids, last seen, open requests and sockets), a
 * sparkline of its sessions since the detach ("slowly emptying" or "stuck"), and Stop now.
 */
export function DrainCard({ worker, samples }: { worker: WorkerInfo; samples: SessionSample[] }) {
  const now = useNow();
  const trpc = useTRPC();
  const [confirming, setConfirming] = useState(false);
  const drain = useQuery({
    ...trpc.workers.drain.queryOptions({ worker: worker.id, limit: LIST }),
    refetchInterval: 5000,
    retry: false,
    placeholderData: (previous) => previous,
  });
  const stopNow = useMutation(trpc.workers.stopNow.mutationOptions());
  // The list follows the counts: fetched again when they change (and every few seconds for "last seen").
  const { refetch } = drain;
  useEffect(() => {
    void refetch();
  }, [worker.sessions, worker.inFlight, worker.webSockets, refetch]);

  const detachedAt = worker.detachedAt === null ? null : Date.parse(worker.detachedAt);
  const deadlineIso = worker.drainDeadline ?? drain.data?.deadline ?? null;
  const deadline = deadlineIso === null ? null : Date.parse(deadlineIso);
  const since = detachedAt ?? now;
  const points = (seriesByWorker(samples).get(worker.id) ?? []).flat().filter((p) => p.t >= since - 2000);
  const max = Math.max(1, ...points.map((p) => p.v), worker.sessions);
  const span = Math.max(1, now - since);
  const x = (t: number) => ((Math.max(t, since) - since) / span) * (W - 2) + 1;
  const y = (v: number) => H - 3 - (v / max) * (H - 10);
  const left = leftText(worker);
  const remaining = drain.data?.remaining ?? [];

  return (
    <div className="drain" data-testid={`drain-${worker.id}`}>
      <div className="drain-head">
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
          </span>
        </div>
        <dl className="drain-facts">
          <div>
            <dt>Deadline</dt>
            <dd>
              {deadline === null ? (
                <span data-testid={`drain-deadline-${worker.id}`}>none (drain.maxSeconds is null)</span>
              ) : (
                <time dateTime={deadlineIso ?? undefined} title={`stopped then whatever is left (drain.maxSeconds): ${formatAbsolute(deadline)}`} data-testid={`drain-deadline-${worker.id}`}>
                  in {formatDuration(Math.max(0, deadline - now))}
                </time>
              )}
            </dd>
          </div>
          <div>
            <dt>Expected end</dt>
            <dd data-testid={`drain-eta-${worker.id}`} title={drain.data?.eta ? formatAbsolute(Date.parse(drain.data.eta)) : undefined}>
              {drain.data === undefined ? (drain.isError ? 'unknown' : '…') : etaText(drain.data, now)}
            </dd>
          </div>
        </dl>
        <div className="drain-chart">
          <svg width={W} height={H} className="sparkline" role="img" aria-label={`${worker.id} sessions since detach, now ${worker.sessions}`}>
            <line x1={0} x2={W} y1={H - 2} y2={H - 2} className="chart-axis" />
            <path d={stepPath(points, x, y, now)} fill="none" stroke={workerColour(worker.id)} strokeWidth={2} />
          </svg>
          <span className="muted small">since detach (peak {max})</span>
        </div>
        <div className="drain-stop">
          <button
            type="button"
            className="button button-danger"
            onClick={() => setConfirming(true)}
            disabled={stopNow.isPending}
            aria-label={`Stop ${worker.id} now`}
            data-testid={`stop-now-${worker.id}`}
          >
            {stopNow.isPending ? 'Stopping…' : 'Stop now'}
          </button>
        </div>
      </div>
      {remaining.length > 0 ? (
        <table className="drain-sessions" data-testid={`drain-sessions-${worker.id}`}>
          <caption className="muted small">
            Sessions left{drain.data?.truncated ? ` (the ${remaining.length} that expire last of ${worker.sessions})` : ''}
          </caption>
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Last seen</th>
              <th scope="col">Expires if idle</th>
              <th scope="col" className="num">Open</th>
            </tr>
          </thead>
          <tbody>
            {remaining.map((session) => (
              <tr key={session.id + session.lastSeenAt}>
                <td>
                  <code>{session.id}</code>
                </td>
                <td>
                  <time dateTime={session.lastSeenAt} title={formatAbsolute(Date.parse(session.lastSeenAt))}>
                    {formatRelative(Date.parse(session.lastSeenAt), now)}
                  </time>
                </td>
                <td>
                  {session.open > 0 ? (
                    <span className="muted">not while in use</span>
                  ) : (
                    <time dateTime={session.expiresAt} title={formatAbsolute(Date.parse(session.expiresAt))}>
                      {formatRelative(Date.parse(session.expiresAt), now)}
                    </time>
                  )}
                </td>
                <td className="num">{session.open}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Feedback pending={stopNow.isPending ? `Stopping ${worker.id}…` : null} error={stopNow.error?.message ?? null} success={null} testId={`stop-now-feedback-${worker.id}`} />
      <Modal
        open={confirming}
        onClose={() => setConfirming(false)}
        title={`Stop ${worker.id} now?`}
        testId="stop-now-dialog"
        footer={<ConfirmFooter label={`Stop ${worker.id} now`} testId="stop-now-confirm" danger onConfirm={() => stopNow.mutate({ worker: worker.id })} onClose={() => setConfirming(false)} />}
      >
        <ul className="consequences">
          <li>
            <strong>{worker.id}</strong> is stopped now instead of when its last session ends
            {deadline === null ? '' : ` (at the latest in ${formatDuration(Math.max(0, deadline - now))})`}.
          </li>
          {worker.sessions > 0 ? (
            <li>
              <strong>{plural(worker.sessions, 'session')}</strong> on it {worker.sessions === 1 ? 'is' : 'are'} lost: those users are logged out and their
              next request starts a new session on the attached worker.
            </li>
          ) : null}
          {worker.inFlight > 0 || worker.webSockets > 0 ? (
            <li>
              {[worker.inFlight > 0 ? plural(worker.inFlight, 'request') : null, worker.webSockets > 0 ? plural(worker.webSockets, 'WebSocket') : null]
                .filter(Boolean)
                .join(' and ')}{' '}
              under way {worker.inFlight + worker.webSockets === 1 ? 'is' : 'are'} cut.
            </li>
          ) : null}
          {worker.sessions + worker.inFlight + worker.webSockets === 0 ? <li>Nothing is left on it: no user notices.</li> : null}
        </ul>
        <p className="muted">The loss is recorded in the event log under your name.</p>
      </Modal>
    </div>
  );
}
