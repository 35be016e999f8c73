import { z } from 'zod';

/** `<pool>@<generation>`, e.g. `web@3`. */
export const WORKER_ID = /^[a-z][a-z0-9-]{0,31}@\d+$/;
/** A pool name, e.g. `web`. */
export const POOL_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export const workerIdSchema = z
  .string()
  .max(48, 'worker id is too long')
  .regex(WORKER_ID, 'worker id must look like web@3 (<pool>@<generation>)');

export const poolNameSchema = z
  .string()
  .max(32, 'pool name is too long')
  .regex(POOL_NAME, 'pool name must be lowercase letters, digits and dashes, starting with a letter');

export const workerInput = z.object({ worker: workerIdSchema });

export const logsInput = z.object({
  worker: workerIdSchema,
  lines: z.number().int().min(1).max(5000).default(200),
});

export const syncInput = z.object({ pool: poolNameSchema.optional() }).optional();

export const eventsListInput = z
  .object({
    afterId: z.number().int().min(0).optional(),
    limit: z.number().int().min(1).max(1000).default(200),
  })
  .optional();

/**
 * `lastEventId`: resume after this event id (the SSE `Last-Event-ID`, which tRPC merges into
 * the input on reconnect). Absent or null: only events recorded from now on. `"0"`: the whole
 * log, then live.
 */
export const eventsLiveInput = z
  .object({
    lastEventId: z
      .string()
      .regex(/^\d{1,15}$/, 'lastEventId must be an event id (digits)')
      .nullish(),
  })
  .optional();

/** `supervisor.stop`: `keepWorkers` leaves the workers running for the next start to re-adopt. */
export const supervisorStopInput = z.object({ keepWorkers: z.boolean().default(false) }).optional();
