'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { retryDelay, retryWhileUnavailable } from '@/hooks/retry';
import { nodeTrafficText } from '@/lib/fleet';
import { formatClock } from '@/lib/format';
import { useTRPC } from '@/trpc/react';
import { NodeDrainControls } from './node-drain-controls';

/** How often this node's drain state is read (it changes when the last session ends). */
const NODE_EVERY_MS = 2000;

/**
 * This node behind a load balancer (docs/many-machines.md): whether the front sends it new
 * clients, and Drain node / Ready, as `handover node drain|ready`.
 */
export function NodePanel() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const status = useQuery({ ...trpc.node.status.queryOptions(), refetchInterval: NODE_EVERY_MS, retry: retryWhileUnavailable, retryDelay });
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.node.status.queryKey() });
  const drain = useMutation(trpc.node.drain.mutationOptions({ onSettled: refresh }));
  const ready = useMutation(trpc.node.ready.mutationOptions({ onSettled: refresh }));
  const node = status.data;
  if (node === undefined) return null;
  const since = node.drainingSince === null ? null : `since ${formatClock(Date.parse(node.drainingSince))}${node.drainedBy === null ? '' : ` by ${node.drainedBy}`}`;
  return (
    <section className="panel node-panel" aria-labelledby="node-panel-title" data-testid="node-panel">
      <header className="panel-header">
        <h2 id="node-panel-title">This node</h2>
        <span className={`fleet-tone fleet-tone-${node.drained ? 'muted' : node.draining ? 'warn' : node.accepting ? 'good' : 'bad'}`} data-testid="node-traffic">
          {nodeTrafficText(node)}
        </span>
        {since === null ? null : <span className="muted small">{since}</span>}
      </header>
      {node.draining ? null : (
        <p className="muted small">
          For a node behind a load balancer: Drain node makes <code>/node-health</code> answer 404, so HAProxy sends it no new clients while the ones it has stay.
        </p>
      )}
      <NodeDrainControls
        name="this node"
        testKey="local"
        draining={node.draining}
        pending={drain.isPending ? 'drain' : ready.isPending ? 'ready' : null}
        error={drain.error?.message ?? ready.error?.message ?? null}
        onAction={(action) => (action === 'drain' ? drain.mutate() : ready.mutate())}
      />
    </section>
  );
}
