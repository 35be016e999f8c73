'use client';

import { useMutation } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { InstanceState, WorkerInfo } from '@handover/process-table';
import { type Outcome, failedWorkerOf, outcomeVisibility, splitMessage } from '@/lib/outcomes';
import { newestGeneration, nextWorkerId, successorInProgress } from '@/lib/workers';
import { useTRPC } from '@/trpc/react';
import { useNow } from './use-now';

export interface WorkerActionsState {
  /** Set while an action runs: what is happening now, naming the worker really starting. */
  pending: string | null;
  /** The last outcome, while the state it describes holds; null otherwise. */
  outcome: Outcome | null;
  /** The worker whose "why it failed" the outcome points at, if any. */
  failed: string | null;
  dismiss: () => void;
  busy: boolean;
  detachAndSyncPending: boolean;
  reattachPending: boolean;
  detachAndSync: () => void;
  reattach: () => void;
}

/**
 * One worker row's actions and what they said. The row owns them (not the buttons' cell), so a
 * message can span the row's width below it instead of stretching the Actions column, and it is
 * dropped once the state it described is gone (#10, items 1–3).
 */
export function useWorkerActions(worker: WorkerInfo, poolWorkers: readonly WorkerInfo[]): WorkerActionsState {
  const trpc = useTRPC();
  const now = useNow();
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  // The pool's newest generation and the predicted successor when Detach and sync was pressed.
  const [startedFrom, setStartedFrom] = useState<{ above: number; predicted: string } | null>(null);

  const say = (kind: Outcome['kind'], text: string, states: readonly InstanceState[]) =>
    setOutcome({ kind, text, states, at: Date.now(), seen: false });

  const detachAndSync = useMutation(
    trpc.workers.detachAndSync.mutationOptions({
      onMutate: () => {
        setOutcome(null);
        setFailed(null);
      },
      onSuccess: ({ detached, started, allDetached, allStarted }) => {
        // A pool of several instances replaces them all at once (#14).
        const news = allStarted?.length > 1 ? allStarted : [started];
        const olds = allDetached?.length > 1 ? allDetached : [detached];
        const ids = (list: typeof news) => list.map((w) => w.id).join(', ');
        say(
          'success',
          news.length === 1 && olds.length === 1
            ? `${started.id} started on revision ${started.revision} and takes new sessions; ${detached.id} is draining.`
            : `${ids(news)} started on revision ${started.revision} and take new sessions; ${ids(olds)} ${olds.length === 1 ? 'is' : 'are'} draining.`,
          ['detached'],
        );
      },
      onError: (error) => {
        const { summary, detail } = splitMessage(error.message);
        const failedId = failedWorkerOf(error.message);
        setFailed(failedId);
        // A failed successor leaves this worker attached: true while it is still started.
        say('error', detail !== null && failedId !== null ? `${summary} See “Why ${failedId} failed to start” below.` : summary, [worker.state]);
      },
    }),
  );
  const reattach = useMutation(
    trpc.workers.reattach.mutationOptions({
      onMutate: () => {
        setOutcome(null);
        setFailed(null);
      },
      onSuccess: (info) => say('success', `${info.id} takes new sessions again.`, ['started']),
      onError: (error) => say('error', splitMessage(error.message).summary, [worker.state]),
    }),
  );

  const visibility = outcome === null ? null : outcomeVisibility(outcome, worker, now);
  useEffect(() => {
    if (visibility === 'drop') setOutcome(null);
    else if (visibility === 'show' && outcome !== null && !outcome.seen) setOutcome({ ...outcome, seen: true });
  }, [visibility, outcome]);

  const successor =
    startedFrom === null ? nextWorkerId(worker.pool, poolWorkers) : successorInProgress(worker.pool, poolWorkers, startedFrom.above, startedFrom.predicted);
  const pending = detachAndSync.isPending
    ? `Starting ${successor}… ${worker.id} stays attached until it is ready.`
    : reattach.isPending
      ? `Reattaching ${worker.id}…`
      : null;

  return {
    pending,
    outcome: visibility === 'show' || (visibility === 'wait' && outcome?.kind === 'error') ? outcome : null,
    failed: visibility === 'drop' ? null : failed,
    dismiss: () => setOutcome(null),
    busy: detachAndSync.isPending || reattach.isPending,
    detachAndSyncPending: detachAndSync.isPending,
    reattachPending: reattach.isPending,
    detachAndSync: () => {
      setStartedFrom({ above: newestGeneration(worker.pool, poolWorkers), predicted: nextWorkerId(worker.pool, poolWorkers) });
      detachAndSync.mutate({ worker: worker.id });
    },
    reattach: () => reattach.mutate({ worker: worker.id }),
  };
}
