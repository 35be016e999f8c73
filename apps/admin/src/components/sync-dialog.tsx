'use client';

import { useQuery } from '@tanstack/react-query';
import type { PoolInfo } from '@handover/process-table';
import { plural } from '@/lib/format';
import { useTRPC } from '@/trpc/react';
import { Modal } from './modal';
import { ConfirmFooter } from './confirm-footer';

/**
 * "What Sync would change" (#10, item 4), asked of the supervisor (`pools.plan`, the file read
 * now) before anything happens: a sync may now replace workers, so it is confirmed like
 * Detach and sync.
 */
export function SyncDialog({ open, pool, onConfirm, onClose }: { open: boolean; pool: PoolInfo; onConfirm: () => void; onClose: () => void }) {
  const trpc = useTRPC();
  const plan = useQuery({ ...trpc.pools.plan.queryOptions({ pool: pool.name }), enabled: open, staleTime: 0, gcTime: 0, retry: false });
  const mine = plan.data?.pools.find((p) => p.pool === pool.name);
  const refused = plan.data?.configError ?? null;
  return (
    <Modal
      open={open}
      onClose={onClose}
      title={`Sync pool ${pool.name}?`}
      testId="sync-dialog"
      footer={<ConfirmFooter label={`Sync ${pool.name}`} testId="sync-confirm" onConfirm={onConfirm} onClose={onClose} />}
    >
      <div data-testid="sync-plan">
        {plan.isError ? (
          <p className="feedback feedback-error" role="alert">
            {plan.error.message}
          </p>
        ) : plan.data === undefined ? (
          <p className="muted">Reading the configuration…</p>
        ) : refused !== null ? (
          <p className="feedback feedback-error" role="alert">
            The configuration file is refused, so a sync changes nothing: {refused}
          </p>
        ) : mine === undefined ? (
          <p className="muted">The configuration file has no pool {pool.name}.</p>
        ) : mine.upToDate ? (
          <p>
            Nothing to change: {pool.name} runs what the file says (revision <strong>{mine.revision}</strong>, {plural(pool.instances, 'worker')}).
            {mine.liftsCrashLoop ? ' The sync lifts the crash-loop stop.' : null}
          </p>
        ) : (
          <>
            <p>Sync reads the file again and then:</p>
            <ul className="consequences">
              {mine.start > 0 ? (
                <li>
                  starts <strong>{plural(mine.start, 'worker')}</strong> on revision <strong>{mine.revision}</strong>;
                </li>
              ) : null}
              {mine.detach.map((id) => (
                <li key={id}>
                  detaches <strong>{id}</strong> once its successor is ready: it keeps its sessions, takes no new ones and stops when they end;
                </li>
              ))}
              {mine.liftsCrashLoop ? <li>lifts the crash-loop stop;</li> : null}
            </ul>
            {mine.changes.length > 0 ? (
              <>
                <p className="muted small">Because the file differs from what runs:</p>
                <ul className="drift-changes">
                  {mine.changes.map((change) => (
                    <li key={change}>{change}</li>
                  ))}
                </ul>
              </>
            ) : null}
            {mine.busy !== null ? <p className="feedback feedback-error">{mine.busy} is in progress: a sync now skips {pool.name}.</p> : null}
          </>
        )}
        {plan.data !== undefined && plan.data.notes.length > 0 ? (
          <ul className="muted small">
            {plan.data.notes.map((note) => (
              <li key={note}>{note}</li>
            ))}
          </ul>
        ) : null}
      </div>
    </Modal>
  );
}
