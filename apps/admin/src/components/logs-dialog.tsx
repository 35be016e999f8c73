'use client';

import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { formatClock, stripAnsi } from '@/lib/format';
import { useTRPC } from '@/trpc/react';
import { Modal } from './modal';

const LINES = 200;

/** The last lines a worker wrote, stderr marked; fetched when opened, refreshable. */
export function LogsDialog({ worker, open, onClose }: { worker: string; open: boolean; onClose: () => void }) {
  const trpc = useTRPC();
  const logs = useQuery({
    ...trpc.workers.logs.queryOptions({ worker, lines: LINES }),
    enabled: open,
    staleTime: 0,
    retry: false,
  });
  const bottom = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (open && logs.data) bottom.current?.scrollIntoView({ block: 'end' });
  }, [open, logs.data]);

  return (
    <Modal
      open={open}
      onClose={onClose}
      wide
      title={`Output of ${worker}`}
      testId={`logs-dialog-${worker}`}
      footer={
        <>
          <span className="muted small">last {LINES} lines · stderr marked</span>
          <button
            type="button"
            className="button button-secondary"
            onClick={() => void logs.refetch()}
            disabled={logs.isFetching}
            data-autofocus
          >
            {logs.isFetching ? 'Refreshing…' : 'Refresh'}
          </button>
        </>
      }
    >
      {logs.isError ? (
        <p className="feedback feedback-error" role="alert">
          {logs.error.message}
        </p>
      ) : logs.data === undefined ? (
        <p className="muted">Loading…</p>
      ) : logs.data.length === 0 ? (
        <p className="muted">{worker} has not written anything yet.</p>
      ) : (
        <div className="log" role="log" aria-label={`Output of ${worker}`} tabIndex={0}>
          {logs.data.map((line, index) => (
            <div key={index} className={`log-line log-${line.stream}`}>
              <span className="log-time">{formatClock(Date.parse(line.at))}</span>
              <span className="log-stream">{line.stream === 'stderr' ? 'err' : 'out'}</span>
              <span className="log-text">{stripAnsi(line.text)}</span>
            </div>
          ))}
          <div ref={bottom} />
        </div>
      )}
    </Modal>
  );
}
