'use client';

import { useState } from 'react';
import type { PoolInfo, WorkerInfo } from '@handover/process-table';
import type { WorkerActionsState } from '@/hooks/use-worker-actions';
import { DetachDialog } from './detach-dialog';
import { Feedback } from './feedback';
import { LogsDialog } from './logs-dialog';
import { ReattachDialog } from './reattach-dialog';

/**
 * The buttons of one worker row. The row owns the mutations (useWorkerActions) and shows what
 * they said across its width below (WorkerFeedback), so this cell stays one line high.
 */
export function WorkerActions({
  worker,
  pool,
  poolWorkers,
  actions,
}: {
  worker: WorkerInfo;
  pool: PoolInfo | undefined;
  poolWorkers: readonly WorkerInfo[];
  actions: WorkerActionsState;
}) {
  const [confirming, setConfirming] = useState<'detach' | 'reattach' | null>(null);
  const [showLogs, setShowLogs] = useState(false);
  const canDetach = worker.state === 'started' && worker.attached;
  const canReattach = worker.state === 'detached' && worker.pid !== null;

  return (
    <div className="actions">
      <div className="action-buttons">
        {canDetach ? (
          <button
            type="button"
            className="button button-primary"
            onClick={() => setConfirming('detach')}
            disabled={actions.busy}
            aria-label={`Detach and sync ${worker.id}`}
            data-testid={`detach-${worker.id}`}
          >
            {actions.detachAndSyncPending ? 'Starting…' : 'Detach and sync'}
          </button>
        ) : null}
        {canReattach ? (
          <button
            type="button"
            className="button button-secondary"
            onClick={() => setConfirming('reattach')}
            disabled={actions.busy}
            aria-label={`Reattach ${worker.id}`}
            data-testid={`reattach-${worker.id}`}
          >
            {actions.reattachPending ? 'Reattaching…' : 'Reattach'}
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
      {canDetach || confirming === 'detach' ? (
        <DetachDialog
          open={confirming === 'detach'}
          worker={worker}
          pool={pool}
          poolWorkers={poolWorkers}
          onClose={() => setConfirming(null)}
          onConfirm={actions.detachAndSync}
        />
      ) : null}
      {canReattach || confirming === 'reattach' ? (
        <ReattachDialog
          open={confirming === 'reattach'}
          worker={worker}
          pool={pool}
          poolWorkers={poolWorkers}
          onClose={() => setConfirming(null)}
          onConfirm={actions.reattach}
        />
      ) : null}
      <LogsDialog worker={worker.id} open={showLogs} onClose={() => setShowLogs(false)} />
    </div>
  );
}

/** What the row's last action said, across the row's width; nothing once it no longer holds. */
export function WorkerFeedback({ worker, actions }: { worker: WorkerInfo; actions: WorkerActionsState }) {
  const outcome = actions.outcome;
  return (
    <div className="row-feedback">
      <Feedback
        pending={actions.pending}
        error={outcome?.kind === 'error' ? outcome.text : null}
        success={outcome?.kind === 'success' ? outcome.text : null}
        testId={`feedback-${worker.id}`}
      />
      {actions.pending === null && outcome !== null ? (
        <button type="button" className="button button-ghost icon-button" onClick={actions.dismiss} aria-label={`Dismiss the message of ${worker.id}`}>
          ×
        </button>
      ) : null}
    </div>
  );
}
