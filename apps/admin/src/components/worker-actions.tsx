'use client';

import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import type { PoolInfo, WorkerInfo } from '@handover/process-table';
import { useTRPC } from '@/trpc/react';
import { DetachDialog } from './detach-dialog';
import { Feedback } from './feedback';
import { LogsDialog } from './logs-dialog';

/**
 * The buttons of one worker row. Each row owns its mutations, so progress and errors appear
 * next to the button that caused them and survive the row's state changing underneath.
 */
export function WorkerActions({ worker, pool, successor }: { worker: WorkerInfo; pool: PoolInfo | undefined; successor: string }) {
  const trpc = useTRPC();
  const [confirming, setConfirming] = useState(false);
  const [showLogs, setShowLogs] = useState(false);
  const [success, setSuccess] = useState<string | null>(null);

  const detachAndSync = useMutation(
    trpc.workers.detachAndSync.mutationOptions({
      onMutate: () => setSuccess(null),
      onSuccess: ({ detached, started }) =>
        setSuccess(`${started.id} started on revision ${started.revision} and takes new sessions; ${detached.id} is draining.`),
    }),
  );
  const reattach = useMutation(
    trpc.workers.reattach.mutationOptions({
      onMutate: () => setSuccess(null),
      onSuccess: (info) => setSuccess(`${info.id} takes new sessions again.`),
    }),
  );

  // Only the latest action's outcome is shown.
  const [last, setLast] = useState<'detach' | 'reattach' | null>(null);
  const active = last === 'reattach' ? reattach : detachAndSync;
  const pending = detachAndSync.isPending
    ? `Starting ${successor}… ${worker.id} stays attached until it is ready.`
    : reattach.isPending
      ? `Reattaching ${worker.id}…`
      : null;
  const busy = detachAndSync.isPending || reattach.isPending;
  const canDetach = worker.state === 'started' && worker.attached;
  const canReattach = worker.state === 'detached' && worker.pid !== null;

  return (
    <div className="actions">
      <div className="action-buttons">
        {canDetach ? (
          <button
            type="button"
            className="button button-primary"
            onClick={() => setConfirming(true)}
            disabled={busy}
            aria-label={`Detach and sync ${worker.id}`}
            data-testid={`detach-${worker.id}`}
          >
            {detachAndSync.isPending ? 'Starting…' : 'Detach and sync'}
          </button>
        ) : null}
        {canReattach ? (
          <button
            type="button"
            className="button button-secondary"
            onClick={() => {
              setLast('reattach');
              reattach.mutate({ worker: worker.id });
            }}
            disabled={busy}
            aria-label={`Reattach ${worker.id}`}
            data-testid={`reattach-${worker.id}`}
          >
            {reattach.isPending ? 'Reattaching…' : 'Reattach'}
          </button>
        ) : null}
        <button
          type="button"
          className="button button-ghost"
          onClick={() => setShowLogs(true)}
          aria-label={`Logs of ${worker.id}`}
          data-testid={`logs-${worker.id}`}
        >
          Logs
        </button>
      </div>
      <Feedback
        pending={pending}
        error={active.error?.message ?? null}
        success={active.isSuccess ? success : null}
        testId={`feedback-${worker.id}`}
      />
      {canDetach || confirming ? (
        <DetachDialog
          open={confirming}
          worker={worker}
          pool={pool}
          successor={successor}
          onClose={() => setConfirming(false)}
          onConfirm={() => {
            setLast('detach');
            detachAndSync.mutate({ worker: worker.id });
          }}
        />
      ) : null}
      <LogsDialog worker={worker.id} open={showLogs} onClose={() => setShowLogs(false)} />
    </div>
  );
}
