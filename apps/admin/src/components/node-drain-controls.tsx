'use client';

import { useState } from 'react';
import { ConfirmFooter } from './confirm-footer';
import { Feedback } from './feedback';
import { Modal } from './modal';

/**
 * Drain node (after a confirmation) or Ready, for one node: the fleet view's cards and this
 * node's panel on the dashboard. `testKey` names the node in test ids (`node-drain-<key>`, …).
 */
export function NodeDrainControls({
  name,
  testKey,
  draining,
  pending,
  error,
  onAction,
}: {
  name: string;
  testKey: string;
  draining: boolean;
  pending: 'drain' | 'ready' | null;
  error: string | null;
  onAction: (action: 'drain' | 'ready') => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const pendingText = pending === null ? null : pending === 'drain' ? `Draining ${name}…` : `Putting ${name} back…`;
  return (
    <div className="fleet-node-actions">
      {draining ? (
        <button type="button" className="button button-primary" disabled={pending !== null} onClick={() => onAction('ready')} data-testid={`node-ready-${testKey}`}>
          Ready
        </button>
      ) : (
        <button type="button" className="button button-secondary" disabled={pending !== null} onClick={() => setConfirming(true)} data-testid={`node-drain-${testKey}`}>
          Drain node
        </button>
      )}
      <Feedback pending={pendingText} error={error} success={null} testId={`node-feedback-${testKey}`} />
      <Modal
        open={confirming}
        onClose={() => setConfirming(false)}
        title={`Drain ${name}?`}
        testId={`node-drain-dialog-${testKey}`}
        footer={<ConfirmFooter label="Drain node" testId={`node-drain-confirm-${testKey}`} danger onConfirm={() => onAction('drain')} onClose={() => setConfirming(false)} />}
      >
        <ul className="consequences">
          <li>The front (HAProxy) sends {name} no new clients; the clients it has stay on it.</li>
          <li>Once it holds no session, request or WebSocket it reports <strong>drained</strong> and can be taken down.</li>
          <li>Ready puts it back.</li>
        </ul>
      </Modal>
    </div>
  );
}
