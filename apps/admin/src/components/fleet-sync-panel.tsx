'use client';

import { useState } from 'react';
import { useFleetSync } from '@/hooks/use-fleet';
import { formatClock } from '@/lib/format';
import { runOutcome } from '@/lib/fleet';
import { ConfirmFooter } from './confirm-footer';
import { Feedback } from './feedback';
import { Modal } from './modal';

/**
 * The rolling detach-and-sync across the fleet. It runs on the console's server: this panel
 * only starts it and shows its steps, so closing the tab does not stop it, and any tab shows it.
 */
export function FleetSyncPanel({ nodes }: { nodes: readonly string[] }) {
  const { run, start } = useFleetSync();
  const [confirming, setConfirming] = useState(false);
  const current = run.data ?? null;
  const running = current?.state === 'running';
  return (
    <section className="panel" aria-labelledby="fleet-sync-title" data-testid="fleet-sync">
      <header className="panel-header">
        <h2 id="fleet-sync-title">Rolling sync</h2>
        <button type="button" className="button button-primary" disabled={running || start.isPending} onClick={() => setConfirming(true)} data-testid="fleet-sync-start">
          {running ? 'Rolling sync running…' : 'Rolling sync'}
        </button>
      </header>
      <p className="muted small">
        Node after node ({nodes.join(', ')}): every pool out of step with that node’s configuration gets a detach-and-sync; the next node
        starts once the previous one’s successors are ready. The first failure stops it.
      </p>
      <Feedback pending={start.isPending ? 'Starting…' : null} error={start.error?.message ?? run.error?.message ?? null} success={null} testId="fleet-sync-feedback" />
      {current !== null ? (
        <div className="fleet-run" data-testid="fleet-sync-run" data-state={current.state}>
          <p className="small muted">
            Started by {current.startedBy} at {formatClock(Date.parse(current.startedAt))}
          </p>
          <ol className="fleet-steps" data-testid="fleet-sync-steps">
            {current.steps.map((step, i) => (
              <li key={i} className={`fleet-step fleet-step-${step.kind}`} data-kind={step.kind} data-node={step.node ?? ''}>
                <span className="fleet-step-time">{formatClock(Date.parse(step.at))}</span> <span className="fleet-step-text">{step.message}</span>
              </li>
            ))}
          </ol>
          <p className={`fleet-outcome fleet-outcome-${current.state}`} role="status" data-testid="fleet-sync-outcome">
            {runOutcome(current)}
          </p>
        </div>
      ) : null}
      <Modal
        open={confirming}
        onClose={() => setConfirming(false)}
        title="Rolling sync of every node?"
        testId="fleet-sync-dialog"
        footer={<ConfirmFooter label="Start rolling sync" testId="fleet-sync-confirm" onConfirm={() => start.mutate()} onClose={() => setConfirming(false)} />}
      >
        <ul className="consequences">
          <li>Each node re-reads its configuration; pools on another revision or command start successors, one node at a time.</li>
          <li>Users stay on their old workers until they log off; new sessions go to the new revision.</li>
          <li>It goes on if you close this page.</li>
        </ul>
      </Modal>
    </section>
  );
}
