import type { EventFilter } from '@handover/process-table';
import type { AnySchema } from '@handover/validation';
import { tracked } from '@trpc/server';
import { liveEvents } from './live-events';
import { watchWorkers } from './workers-watch';
import {
  drainInput,
  eventsListInput,
  eventsLiveInput,
  historyInput,
  logsInput,
  noInput,
  supervisorStopInput,
  syncInput,
  workerInput,
  workersWatchInput,
} from './schemas';
import { protectedProcedure, publicProcedure, router } from './trpc';

const workersRouter = router({
  list: protectedProcedure.input(noInput).query(({ ctx }) => ctx.supervisor.listWorkers()),
  detach: protectedProcedure
    .input(workerInput)
    .mutation(({ ctx, input }) => ctx.supervisor.detach(input.worker, ctx.actor)),
  detachAndSync: protectedProcedure
    .input(workerInput)
    .mutation(({ ctx, input }) => ctx.supervisor.detachAndSync(input.worker, ctx.actor)),
  reattach: protectedProcedure
    .input(workerInput)
    .mutation(({ ctx, input }) => ctx.supervisor.reattach(input.worker, ctx.actor)),
  logs: protectedProcedure
    .input(logsInput)
    .query(({ ctx, input }) => ctx.supervisor.logs(input.worker, input.lines)),
  /**
   * Session counts per worker over the last `minutes` (default 10, at most 1440; one sample every
   * 2 s, kept across restarts); an ended worker's line ends with a 0 at its stop time.
   */
  history: protectedProcedure
    .input(historyInput)
    .query(({ ctx, input }) => ctx.supervisor.sessionHistory({ minutes: input?.minutes ?? 10 })),
  /** Start, ready, detach and stop times of every worker seen in the last `minutes` (for the chart). */
  markers: protectedProcedure
    .input(historyInput)
    .query(({ ctx, input }) => ctx.supervisor.workerMarkers({ minutes: input?.minutes ?? 10 })),
  /** What a worker still holds (sessions with truncated ids, requests, WebSockets), its drain deadline and ETA. */
  drain: protectedProcedure
    .input(drainInput)
    .query(({ ctx, input }) => ctx.supervisor.drainInfo(input.worker, input.limit)),
  /** Stops a detached worker now; what it still holds is lost (`sessions.lost`, with the actor). */
  stopNow: protectedProcedure
    .input(workerInput)
    .mutation(({ ctx, input }) => ctx.supervisor.stopNow(input.worker, ctx.actor)),
  /** Server-sent snapshots of every worker and pool, pushed whenever something changes. */
  watch: protectedProcedure.input(workersWatchInput).subscription(async function* ({ ctx, signal }) {
    yield* watchWorkers(ctx.supervisor, signal);
  }),
});

const poolsRouter = router({
  list: protectedProcedure.input(noInput).query(({ ctx }) => ctx.supervisor.listPools()),
  sync: protectedProcedure
    .input(syncInput)
    .mutation(({ ctx, input }) => ctx.supervisor.sync(input?.pool, ctx.actor)),
  /** What `pools.sync` would do now (the file re-read), without doing it. */
  plan: protectedProcedure.input(syncInput).query(({ ctx, input }) => ctx.supervisor.planSync(input?.pool)),
});

const eventsRouter = router({
  list: protectedProcedure.input(eventsListInput).query(({ ctx, input }) => {
    const filter = eventFilterOf(input);
    return ctx.supervisor.listEvents({
      ...(input?.afterId !== undefined ? { afterId: input.afterId } : {}),
      limit: input?.limit ?? 200,
      ...(filter === undefined ? {} : { filter }),
    });
  }),
  /**
   * Server-sent events: replays the events after `lastEventId`, then live ones, each with its id
   * as the SSE `id:` so a reconnecting EventSource resumes exactly where it stopped.
   */
  live: protectedProcedure.input(eventsLiveInput).subscription(async function* ({ ctx, input, signal }) {
    const afterId =
      input?.lastEventId === undefined || input.lastEventId === null ? undefined : Number(input.lastEventId);
    for await (const event of liveEvents(ctx.supervisor, afterId, signal, eventFilterOf(input))) {
      yield tracked(String(event.id), event);
    }
  }),
});

/** The node in a fleet behind HAProxy: drain it (no new clients, its own stay) and put it back. */
const nodeRouter = router({
  status: protectedProcedure.input(noInput).query(({ ctx }) => ctx.supervisor.nodeStatus()),
  drain: protectedProcedure.input(noInput).mutation(({ ctx }) => ctx.supervisor.drainNode(ctx.actor)),
  ready: protectedProcedure.input(noInput).mutation(({ ctx }) => ctx.supervisor.readyNode(ctx.actor)),
});

const supervisorRouter = router({
  /**
   * Stops the supervisor after answering. `{ keepWorkers: true }` leaves every worker running
   * (recorded in the store) so the next `handover start` re-adopts them with their sessions.
   */
  stop: protectedProcedure
    .input(supervisorStopInput)
    .mutation(({ ctx, input }) => ctx.supervisor.stopSupervisor({ keepWorkers: input?.keepWorkers ?? false }, ctx.actor)),
});

export const appRouter = router({
  health: publicProcedure.input(noInput).query(() => ({ ok: true as const })),
  workers: workersRouter,
  pools: poolsRouter,
  events: eventsRouter,
  supervisor: supervisorRouter,
  node: nodeRouter,
});

export type AppRouter = typeof appRouter;

/** The filter fields of an events input; undefined when none is given. */
export function eventFilterOf(input: Partial<Record<keyof EventFilter, string | undefined>> | undefined): EventFilter | undefined {
  if (input === undefined) return undefined;
  const filter: EventFilter = {};
  for (const key of ['worker', 'pool', 'type', 'actor'] as const) if (input[key] !== undefined) filter[key] = input[key];
  return Object.keys(filter).length === 0 ? undefined : filter;
}

/**
 * The input schema of every subscription. tRPC reports a subscription's input error inside an
 * already opened event stream (200); the HTTP handler checks the input with these first so a
 * bad one gets a plain 400.
 */
export const SUBSCRIPTION_INPUTS = {
  'events.live': eventsLiveInput,
  'workers.watch': workersWatchInput,
} as const satisfies Record<string, AnySchema>;
