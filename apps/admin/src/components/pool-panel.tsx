'use client';

import { useMutation } from '@tanstack/react-query';
import { type ReactNode, useState } from 'react';
import type { HandoverEvent, PoolInfo, SessionSample, WorkerInfo } from '@handover/process-table';
import { formatAbsolute, formatRelative, plural } from '@/lib/format';
import { splitMessage } from '@/lib/outcomes';
import { type PoolAttention, poolAttention } from '@/lib/pool-health';
import { attachedView, groupWorkers } from '@/lib/workers';
import { useNow } from '@/hooks/use-now';
import { useTRPC } from '@/trpc/react';
import { Feedback } from './feedback';
import { SyncDialog } from './sync-dialog';
import { useToast } from './toasts';
import { WorkerRow } from './worker-row';

function PoolStatusBadge({ pool, attention }: { pool: PoolInfo; attention: PoolAttention }) {
  const now = useNow();
  const badges: ReactNode[] = [];
  if (pool.status === 'backoff') {
    const at = pool.nextRestartAt === null ? null : Date.parse(pool.nextRestartAt);
    badges.push(
      <span key="status" className="badge badge-backoff" title={at === null ? undefined : formatAbsolute(at)}>
        backoff{at === null ? '' : ` · restart ${formatRelative(at, now)}`}
      </span>,
    );
  } else if (pool.status === 'errored') {
    badges.push(
      <span key="status" className="badge badge-errored">
        errored
      </span>,
    );
  }
  if (attention.deployFailed !== null) {
    badges.push(
      <span key="deploy" className="badge badge-errored" title={attention.deployFailed.message}>
        deploy failed
      </span>,
    );
  }
  if (attention.configRejected !== null) {
    badges.push(
      <span key="config" className="badge badge-errored" title={attention.configRejected.message}>
        config rejected
      </span>,
    );
  }
  if (attention.starting.length > 0) {
    badges.push(
      <span key="deploying" className="badge badge-starting" title="a new worker is starting; the pool is compared with the file once it is ready">
        deploying · {attention.starting.join(', ')} starting
      </span>,
    );
  }
  if (attention.drift !== null) {
    badges.push(
      <span
        key="drift"
        className="badge badge-drift"
        title={attention.drift.changes.join('\n')}
        data-testid={`pool-drift-${pool.name}`}
      >
        {attention.drift.running.some((revision) => revision !== attention.drift!.configured)
          ? `out of sync · running ${attention.drift.running.join(', ')}, file says ${attention.drift.configured}`
          : `out of sync · ${plural(attention.drift.changes.length, 'change')}`}
      </span>,
    );
  }
  if (badges.length === 0) {
    badges.push(
      <span key="ok" className="badge badge-ok">
        ok
      </span>,
    );
  }
  return (
    <span className="pool-badges" data-testid={`pool-status-${pool.name}`}>
      {badges}
    </span>
  );
}

function SyncButton({ pool }: { pool: PoolInfo }) {
  const trpc = useTRPC();
  const toast = useToast();
  // The outcome is a toast (it is true only at that moment; the event log keeps it). What stays
  // true for a while — a failed deploy, a refused configuration — is the pool's alert below.
  const sync = useMutation(
    trpc.pools.sync.mutationOptions({
      onSuccess: (data) => {
        const outcome = data.pools.find((p) => p.pool === pool.name);
        if (outcome === undefined) return;
        if (outcome.error !== null) toast({ kind: 'error', text: `Sync of ${pool.name} failed: ${splitMessage(outcome.error).summary}` });
        else if (outcome.started.length > 0) {
          const detached = outcome.detached ?? [];
          toast({
            kind: 'success',
            text:
              `${pool.name}: started ${outcome.started.map((w) => `${w.id} (revision ${w.revision})`).join(', ')}` +
              (detached.length > 0 ? `; ${detached.map((w) => w.id).join(', ')} detached and draining.` : '.'),
          });
        }
        else toast({ kind: 'info', text: `${pool.name}: nothing to start; it has the ${plural(pool.instances, 'worker')} it wants.` });
      },
      onError: (error) => toast({ kind: 'error', text: `Sync of ${pool.name}: ${splitMessage(error.message).summary}` }),
    }),
  );
  const [confirming, setConfirming] = useState(false);
  return (
    <div className="pool-sync">
      <SyncDialog open={confirming} pool={pool} onClose={() => setConfirming(false)} onConfirm={() => sync.mutate({ pool: pool.name })} />
      <button
        type="button"
        className="button button-secondary"
        disabled={sync.isPending}
        onClick={() => setConfirming(true)}
        aria-label={`Sync pool ${pool.name}`}
        data-testid={`sync-${pool.name}`}
      >
        {sync.isPending ? 'Syncing…' : 'Sync'}
      </button>
      <Feedback
        pending={sync.isPending ? `Reading the configuration and starting what ${pool.name} needs…` : null}
        error={null}
        success={null}
        testId={`sync-feedback-${pool.name}`}
      />
    </div>
  );
}

/** One pool: its health and counts in the header, then a table of its workers. */
export function PoolPanel({
  pool,
  workers,
  samples,
  events,
}: {
  pool: PoolInfo;
  workers: WorkerInfo[];
  samples: SessionSample[];
  events: readonly HandoverEvent[];
}) {
  const groups = groupWorkers(workers);
  const attached = attachedView(pool, workers);
  const attention = poolAttention(pool, workers, events);
  const [showEnded, setShowEnded] = useState(false);
  const now = useNow();
  const titleId = `pool-${pool.name}-title`;
  const row = (worker: WorkerInfo, hidden = false) => (
    <WorkerRow key={worker.id} worker={worker} pool={pool} poolWorkers={workers} samples={samples} hidden={hidden} />
  );
  return (
    <section className="panel pool" aria-labelledby={titleId} data-testid={`pool-${pool.name}`}>
      <header className="pool-header">
        <div className="pool-title">
          <h2 id={titleId}>
            Pool <span className="pool-name">{pool.name}</span>
          </h2>
          <PoolStatusBadge pool={pool} attention={attention} />
        </div>
        <dl className="pool-facts">
          <div>
            <dt>Configured revision</dt>
            <dd>
              <code data-testid={`pool-revision-${pool.name}`}>{pool.revision}</code>
            </dd>
          </div>
          <div>
            <dt>Attached</dt>
            <dd data-testid={`pool-attached-${pool.name}`} className={attached.short ? 'text-danger' : undefined} title="ready workers taking new sessions / wanted">
              {attached.text}
            </dd>
          </div>
          <div>
            <dt>Sessions lost</dt>
            <dd className={pool.sessionsLost > 0 ? 'text-danger' : undefined}>{pool.sessionsLost}</dd>
          </div>
          <div>
            <dt>Session cookie</dt>
            <dd>
              <code>{pool.sessionCookie}</code>
            </dd>
          </div>
        </dl>
        <SyncButton pool={pool} />
      </header>
      {pool.status !== 'ok' && pool.lastError !== null ? (
        <p className={`pool-alert pool-alert-${pool.status}`} role="alert">
          {pool.status === 'errored' ? 'Restarts stopped: ' : 'Restarting: '}
          {splitMessage(pool.lastError).summary}
          {pool.status === 'errored' ? ' Fix the cause, then press Sync.' : null}
        </p>
      ) : null}
      {attention.configRejected !== null ? (
        <p className="pool-alert pool-alert-errored" role="alert" data-testid={`pool-config-rejected-${pool.name}`}>
          The configuration file is refused
          {attention.configRejected.at === null ? '' : ` (${formatRelative(Date.parse(attention.configRejected.at), now)})`}, so {pool.name} keeps what was
          read before (revision {pool.revision}): {attention.configRejected.message.replace(/^configuration not applied: /, '')} Fix the file; it is read
          again when it changes.
        </p>
      ) : null}
      {attention.deployFailed !== null ? (
        <p className="pool-alert pool-alert-errored" role="alert" data-testid={`pool-deploy-failed-${pool.name}`}>
          The last deploy failed: {splitMessage(attention.deployFailed.message).summary}{' '}
          {groups.latest.some((w) => w.id === attention.deployFailed!.worker) ? (
            <a href={`#why-${attention.deployFailed.worker}`}>Why {attention.deployFailed.worker} failed</a>
          ) : null}
        </p>
      ) : null}
      {attention.drift !== null ? (
        <details className="drift-preview" open data-testid={`drift-preview-${pool.name}`}>
          <summary>
            What Sync would change: {plural(attention.drift.changes.length, 'difference')} between the file and what runs
          </summary>
          <ul className="drift-changes">
            {attention.drift.changes.map((change) => (
              <li key={change}>{change}</li>
            ))}
          </ul>
        </details>
      ) : null}
      <div className="table-scroll" tabIndex={0} role="region" aria-label={`Workers of pool ${pool.name}`}>
        <table className="workers">
          <thead>
            <tr>
              <th scope="col">Worker</th>
              <th scope="col">State</th>
              <th scope="col">Revision</th>
              <th scope="col" className="num">Sessions</th>
              <th scope="col" className="num">In flight</th>
              <th scope="col" className="num">WebSockets</th>
              <th scope="col" className="num">PID</th>
              <th scope="col" className="num">Port</th>
              <th scope="col" className="num">Uptime</th>
              <th scope="col" className="num">Memory</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody data-testid={`live-workers-${pool.name}`}>
            {groups.live.length === 0 && groups.latest.length === 0 ? (
              <tr>
                <td colSpan={11} className="muted">
                  No workers running. Press Sync to start {plural(pool.instances, 'worker')}.
                </td>
              </tr>
            ) : null}
            {groups.live.map((worker) => row(worker))}
            {groups.latest.map((worker) => row(worker))}
          </tbody>
          {groups.ended.length > 0 ? (
            <tbody className="ended-workers" data-testid={`ended-workers-${pool.name}`}>
              <tr className="ended-toggle-row">
                <td colSpan={11}>
                  <button
                    type="button"
                    className="button button-ghost ended-toggle"
                    aria-expanded={showEnded}
                    onClick={() => setShowEnded((v) => !v)}
                    data-testid={`ended-toggle-${pool.name}`}
                  >
                    {showEnded ? '▾' : '▸'} {plural(groups.ended.length, 'ended worker')}
                  </button>
                  <span className="muted small"> {endedSummary(groups.ended)}</span>
                </td>
              </tr>
              {groups.ended.map((worker) => row(worker, !showEnded))}
            </tbody>
          ) : null}
        </table>
      </div>
    </section>
  );
}

/** "web@2 stopped, web@1 failed, …": what the folded rows are, without unfolding them. */
function endedSummary(ended: readonly WorkerInfo[]): string {
  const shown = ended.slice(0, 3).map((w) => `${w.id} ${w.state}`);
  return shown.join(', ') + (ended.length > 3 ? `, ${ended.length - 3} more` : '');
}
