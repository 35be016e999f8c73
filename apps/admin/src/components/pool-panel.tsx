'use client';

import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import type { PoolInfo, SessionSample, WorkerInfo } from '@handover/process-table';
import { formatAbsolute, formatRelative, plural } from '@/lib/format';
import { byGenerationDesc, nextWorkerId } from '@/lib/workers';
import { useNow } from '@/hooks/use-now';
import { useTRPC } from '@/trpc/react';
import { Feedback } from './feedback';
import { WorkerRow } from './worker-row';

function PoolStatusBadge({ pool }: { pool: PoolInfo }) {
  const now = useNow();
  if (pool.status === 'ok') return <span className="badge badge-ok">ok</span>;
  if (pool.status === 'backoff') {
    const at = pool.nextRestartAt === null ? null : Date.parse(pool.nextRestartAt);
    return (
      <span className="badge badge-backoff" title={at === null ? undefined : formatAbsolute(at)}>
        backoff{at === null ? '' : ` · restart ${formatRelative(at, now)}`}
      </span>
    );
  }
  return <span className="badge badge-errored">errored</span>;
}

function SyncButton({ pool }: { pool: PoolInfo }) {
  const trpc = useTRPC();
  const sync = useMutation(trpc.pools.sync.mutationOptions());
  const outcome = sync.data?.pools.find((p) => p.pool === pool.name);
  const success =
    outcome === undefined
      ? null
      : outcome.error !== null
        ? null
        : outcome.started.length > 0
          ? `Started ${outcome.started.map((w) => `${w.id} (revision ${w.revision})`).join(', ')}.`
          : `Nothing to start: the pool has the ${plural(pool.instances, 'worker')} it wants.`;
  const error = sync.error?.message ?? outcome?.error ?? null;
  return (
    <div className="pool-sync">
      <button
        type="button"
        className="button button-secondary"
        disabled={sync.isPending}
        onClick={() => sync.mutate({ pool: pool.name })}
        aria-label={`Sync pool ${pool.name}`}
        data-testid={`sync-${pool.name}`}
      >
        {sync.isPending ? 'Syncing…' : 'Sync'}
      </button>
      <Feedback
        pending={sync.isPending ? `Reading the configuration and starting what ${pool.name} lacks…` : null}
        error={error}
        success={success}
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
}: {
  pool: PoolInfo;
  workers: WorkerInfo[];
  samples: SessionSample[];
}) {
  const sorted = [...workers].sort(byGenerationDesc);
  const successor = nextWorkerId(pool.name, workers);
  const titleId = `pool-${pool.name}-title`;
  return (
    <section className="panel pool" aria-labelledby={titleId} data-testid={`pool-${pool.name}`}>
      <header className="pool-header">
        <div className="pool-title">
          <h2 id={titleId}>
            Pool <span className="pool-name">{pool.name}</span>
          </h2>
          <PoolStatusBadge pool={pool} />
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
            <dd data-testid={`pool-attached-${pool.name}`}>
              {pool.attached} / {pool.instances} wanted
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
          {pool.lastError}
          {pool.status === 'errored' ? ' Fix the cause, then press Sync.' : null}
        </p>
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
          <tbody>
            {sorted.length === 0 ? (
              <tr>
                <td colSpan={11} className="muted">
                  No workers. Press Sync to start {plural(pool.instances, 'worker')}.
                </td>
              </tr>
            ) : (
              sorted.map((worker) => (
                <WorkerRow key={worker.id} worker={worker} pool={pool} successor={successor} samples={samples} />
              ))
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
