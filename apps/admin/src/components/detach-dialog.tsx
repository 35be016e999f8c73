'use client';

import type { PoolInfo, WorkerInfo } from '@handover/process-table';
import { plural } from '@/lib/format';
import { detachPlan, listOf } from '@/lib/workers';
import { Modal } from './modal';
import { ConfirmFooter } from './confirm-footer';

/** "Are you sure?" for Detach and sync, saying exactly what will happen to whom. */
export function DetachDialog({
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
  const sessions = plural(worker.sessions, 'session');
  // A pool of several instances replaces them all at once (pool.instances as last read).
  const plan = detachPlan(worker, poolWorkers, pool?.instances ?? 1);
  const successors = listOf(plan.successors);
  const several = plan.successors.length > 1;
  const others = plan.detached.slice(1);
  return (
    <Modal
      open={open}
      onClose={onClose}
      title={`Detach ${worker.id} and sync?`}
      testId="detach-dialog"
      footer={<ConfirmFooter label="Detach and sync" testId="detach-confirm" onConfirm={onConfirm} onClose={onClose} />}
    >
      <ul className="consequences">
        <li>
          <strong>{worker.id}</strong> keeps serving its {sessions} but takes no new ones
          {others.length > 0 ? (
            <>
              ; so do <strong>{listOf(others)}</strong>, the pool&apos;s other attached {others.length === 1 ? 'worker' : 'workers'}
            </>
          ) : null}
          .
        </li>
        <li>
          {several ? (
            <>
              {plan.successors.length} new workers, <strong>{successors}</strong>, start together on the configured revision
            </>
          ) : (
            <>
              A new worker, <strong>{successors}</strong>, starts on the configured revision
            </>
          )}
          {pool ? (
            <>
              {' '}
              (last read: <strong>{pool.revision}</strong>; the configuration is read again now)
            </>
          ) : null}{' '}
          {several ? ' and take every new session once all of them are ready.' : ' and takes every new session once it is ready.'}
        </li>
        <li>
          {others.length > 0 ? 'Each' : <strong>{worker.id}</strong>} stops by itself when its last session ends. Users move over by logging off and on.
        </li>
      </ul>
      <p className="muted">
        If {several ? 'one of them' : successors} fails to start, {worker.id} stays attached and nothing changes for users; the error is shown here.
      </p>
    </Modal>
  );
}
