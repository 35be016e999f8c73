'use client';

import type { PoolInfo, WorkerInfo } from '@handover/process-table';
import { plural } from '@/lib/format';
import { reattachPlan } from '@/lib/workers';
import { Modal } from './modal';
import { ConfirmFooter } from './confirm-footer';

/**
 * "Are you sure?" for Reattach, the rollback (#10, item 8): as careful as Detach and sync's,
 * because it detaches the newer worker at once, and one with no sessions stops right away.
 */
export function ReattachDialog({
  open,
  worker,
  pool,
  poolWorkers,
  onConfirm,
  onClose,
}: {
  open: boolean;
  worker: WorkerInfo;
  pool: PoolInfo | undefined;
  poolWorkers: readonly WorkerInfo[];
  onConfirm: () => void;
  onClose: () => void;
}) {
  const detached = reattachPlan(worker, poolWorkers, pool?.instances ?? 1);
  return (
    <Modal
      open={open}
      onClose={onClose}
      title={`Reattach ${worker.id} and roll back to ${worker.revision}?`}
      testId="reattach-dialog"
      footer={<ConfirmFooter label={`Reattach ${worker.id}`} testId="reattach-confirm" onConfirm={onConfirm} onClose={onClose} />}
    >
      <ul className="consequences">
        <li>
          <strong>{worker.id}</strong> (revision <strong>{worker.revision}</strong>) takes every new session again.
        </li>
        {detached.map((newer) => (
          <li key={newer.id} data-testid={`reattach-detaches-${newer.id}`}>
            <strong>{newer.id}</strong> (revision <strong>{newer.revision}</strong>) is detached now: it takes no new sessions.{' '}
            {newer.sessions + newer.webSockets + newer.inFlight === 0 ? (
              <strong>It has no sessions, so it stops at once.</strong>
            ) : (
              <>
                Its {plural(newer.sessions, 'session')} stay on it until they end; then it stops by itself.
              </>
            )}
          </li>
        ))}
      </ul>
      {pool !== undefined && pool.revision !== worker.revision ? (
        <p className="muted">
          The configuration still names revision <strong>{pool.revision}</strong>: the next Sync or Detach and sync starts {pool.revision} again.
        </p>
      ) : null}
    </Modal>
  );
}
