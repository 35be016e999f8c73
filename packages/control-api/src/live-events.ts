import type { EventFilter, HandoverEvent } from '@handover/process-table';
import { type SupervisorControl, matchesEventFilter } from './contract';

/** Page size when replaying from the event store. */
const REPLAY_PAGE = 1000;
/** Live events held for one slow subscriber before it falls back to replaying from the store. */
const MAX_BUFFERED = 10_000;

/**
 * Every event after `afterId` (from the store), then every live event, in id order, with no
 * gap and no duplicate between the two: the listener is registered BEFORE the replay, and
 * buffered live events with an id already replayed are dropped. `afterId` undefined: live
 * events only. Ends (and unsubscribes) when `signal` aborts or the consumer stops iterating.
 * With a `filter`, only the events it matches (replayed and live alike).
 */
export async function* liveEvents(
  supervisor: Pick<SupervisorControl, 'listEvents' | 'onEvent'>,
  afterId: number | undefined,
  signal: AbortSignal | undefined,
  filter?: EventFilter,
): AsyncGenerator<HandoverEvent, void, unknown> {
  const buffer: HandoverEvent[] = [];
  let wake: (() => void) | null = null;
  let lastId = afterId;
  let replayNeeded = afterId !== undefined;
  let replayFrom: number | undefined;

  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const unsubscribe = supervisor.onEvent((event) => {
    if (!matchesEventFilter(event, filter)) return;
    if (buffer.length >= MAX_BUFFERED) {
      // The consumer is far behind: forget the buffer and catch up from the store instead.
      replayFrom ??= buffer[0]!.id - 1;
      buffer.length = 0;
      replayNeeded = true;
    }
    buffer.push(event);
    notify();
  });
  const aborted = (): boolean => signal?.aborted === true;
  signal?.addEventListener('abort', notify);
  try {
    while (!aborted()) {
      if (replayNeeded) {
        replayNeeded = false;
        const from = lastId ?? replayFrom;
        replayFrom = undefined;
        if (from !== undefined) {
          lastId = from;
          for (;;) {
            const page = supervisor.listEvents({ afterId: lastId, limit: REPLAY_PAGE, ...(filter === undefined ? {} : { filter }) });
            let advanced = false;
            for (const event of page) {
              if (event.id <= lastId) continue;
              lastId = event.id;
              advanced = true;
              yield event;
              if (aborted()) return;
            }
            if (page.length < REPLAY_PAGE || !advanced) break;
          }
        }
        continue;
      }
      const next = buffer.shift();
      if (next === undefined) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      if (lastId !== undefined && next.id <= lastId) continue;
      lastId = next.id;
      yield next;
    }
  } finally {
    unsubscribe();
    signal?.removeEventListener('abort', notify);
    notify();
  }
}
