import type { InstanceState } from '@handover/process-table';
import { STATE_DESCRIPTIONS } from '@/lib/workers';

/** A worker's state as a coloured badge that also says it in words (colour is never the only cue). */
export function StateBadge({ state, testId }: { state: InstanceState; testId?: string }) {
  return (
    <span className={`badge badge-${state}`} title={STATE_DESCRIPTIONS[state]} data-testid={testId}>
      <span className="badge-dot" aria-hidden="true" />
      {state}
    </span>
  );
}
