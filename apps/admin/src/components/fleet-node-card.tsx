'use client';

import type { FleetNodeView } from '@handover/control-api/fleet';
import { useNodeTraffic } from '@/hooks/use-fleet';
import { liveWorkers, nodeTraffic, poolRevisions } from '@/lib/fleet';
import { NodeDrainControls } from './node-drain-controls';
import { StateBadge } from './state-badge';

/** One node of the fleet: whether it takes new clients, its sessions, pools and workers, drain / ready. */
export function FleetNodeCard({ view }: { view: FleetNodeView }) {
  const traffic = nodeTraffic(view);
  const node = view.node;
  return (
    <section className="panel fleet-node" aria-labelledby={`node-${view.name}`} data-testid={`fleet-node-${view.name}`}>
      <header className="fleet-node-header">
        <h2 id={`node-${view.name}`}>
          node <span className="fleet-node-name">{view.name}</span>
        </h2>
        <span className={`fleet-tone fleet-tone-${traffic.tone}`} data-testid={`node-traffic-${view.name}`}>
          {traffic.label}
        </span>
        <span className="muted small fleet-node-control">{view.control}</span>
      </header>
      {node === null ? (
        <p className="text-danger small" data-testid={`node-error-${view.name}`}>
          Not answering: {view.error}
        </p>
      ) : (
        <>
          <p className="fleet-node-facts small">
            <span>
              <strong data-testid={`node-sessions-${view.name}`}>{node.sessions}</strong> session{node.sessions === 1 ? '' : 's'}
            </span>
            <span>{node.inFlight} in flight</span>
            <span>{node.webSockets} WebSocket{node.webSockets === 1 ? '' : 's'}</span>
            {node.drainedBy !== null ? <span className="muted">drained by {node.drainedBy}</span> : null}
          </p>
          <ul className="fleet-pools">
            {view.pools.map((pool) => {
              const revisions = poolRevisions(pool);
              return (
                <li key={pool.name} data-testid={`node-pool-${view.name}-${pool.name}`}>
                  <strong>{pool.name}</strong> runs <code>{revisions.running}</code>, configured <code>{revisions.configured}</code>{' '}
                  {revisions.drift ? <span className="badge badge-drift">out of sync</span> : <span className="badge badge-ok">in sync</span>}
                </li>
              );
            })}
          </ul>
          <table className="fleet-workers">
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">State</th>
                <th scope="col">Revision</th>
                <th scope="col" className="num">
                  Sessions
                </th>
              </tr>
            </thead>
            <tbody>
              {liveWorkers(view).map((worker) => (
                <tr key={worker.id} data-testid={`node-worker-${view.name}-${worker.id}`}>
                  <th scope="row" className="worker-id">
                    {worker.id}
                  </th>
                  <td>
                    <StateBadge state={worker.state} testId={`node-worker-state-${view.name}-${worker.id}`} />
                  </td>
                  <td data-testid={`node-worker-revision-${view.name}-${worker.id}`}>{worker.revision}</td>
                  <td className="num">{worker.sessions}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <NodeTrafficActions name={view.name} draining={node.draining} />
        </>
      )}
    </section>
  );
}

function NodeTrafficActions({ name, draining }: { name: string; draining: boolean }) {
  const traffic = useNodeTraffic(name);
  return (
    <NodeDrainControls
      name={`node ${name}`}
      testKey={name}
      draining={draining}
      pending={traffic.isPending ? (traffic.variables ?? null) : null}
      error={traffic.error?.message ?? null}
      onAction={(action) => traffic.mutate(action)}
    />
  );
}
