'use client';

import type { PoolInfo, WorkerInfo } from '@handover/process-table';
import { plural } from '@/lib/format';
import { Modal } from './modal';
import { ConfirmFooter } from './confirm-footer';

/** "Are you sure?" for Detach and sync, saying exactly what will happen to whom. */
export function DetachDialog({
  open,
  worker,
  pool,
  successor,
  onConfirm,
  onClose,
}: {
  open: boolean;
  worker: WorkerInfo;
  pool: PoolInfo | undefined;
  successor: string;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const sessions = plural(worker.sessions, 'session');
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
          <strong>{worker.id}</strong> keeps serving its {sessions} but takes no new ones.
        </li>
        <li>
          A new worker, <strong>{successor}</strong>, starts on the configured revision
          {pool ? (
            <>
              {' '}
              (last read: <strong>{pool.revision}</strong>; the configuration is read again now)
            </>
          ) : null}{' '}
          and takes every new session once it is ready.
        </li>
        <li>
          <strong>{worker.id}</strong> stops by itself when its last session ends. Users move over by logging off and on.
        </li>
      </ul>
      <p className="muted">
        If {successor} fails to start, {worker.id} stays attached and nothing changes for users; the error is shown here.
      </p>
    </Modal>
  );
}
