import { POOL_NAME_PATTERN, WORKER_ID_PATTERN } from '@handover/process-table';
import * as v from '@handover/validation';

/** `<pool>@<generation>`, e.g. `web@3` (the process table's own rule). */
export const WORKER_ID = WORKER_ID_PATTERN;
/** A pool name, e.g. `web`. */
export const POOL_NAME = POOL_NAME_PATTERN;

export const workerIdSchema = v
  .string()
  .max(48, 'worker id is too long')
  .regex(WORKER_ID, 'worker id must look like web@3 (<pool>@<generation>)');

export const poolNameSchema = v
  .string()
  .max(32, 'pool name is too long')
  .regex(POOL_NAME, 'pool name must be lowercase letters, digits and dashes, starting with a letter');

/*
 * Every input is a strict object: an unknown key is a 400 naming it, never silently dropped.
 * A dropped key changes what a call means: `pools.sync {"worker":"web@0"}` would sync every
 * pool, `workers.logs {"stream":"stderr"}` would return both streams.
 */

/** Procedures without input: nothing, or `{}`. */
export const noInput = v.strictObject({}).optional();

export const workerInput = v.strictObject({ worker: workerIdSchema });

export const logsInput = v.strictObject({
  worker: workerIdSchema,
  lines: v.number().int().min(1).max(5000).default(200),
});

export const syncInput = v.strictObject({ pool: poolNameSchema.optional() }).optional();

/** An event type (`worker.stopped`) or a prefix of types ending in `.` or `.*` (`worker.`, `worker.*`). */
export const eventTypeFilterSchema = v
  .string()
  .max(64, 'type is too long')
  .regex(/^[a-z][A-Za-z]*(\.[a-z][A-Za-z]*)*(\.\*?)?$/, 'type must be an event type like worker.stopped, or a prefix like worker. or worker.*');

/** The filters every event reader takes (`events.list`, `events.live`, `GET /events.ndjson`). */
export const eventFilterFields = {
  worker: workerIdSchema.optional(),
  pool: poolNameSchema.optional(),
  type: eventTypeFilterSchema.optional(),
  actor: v.string().min(1, 'actor must not be empty').max(64, 'actor is too long').optional(),
};

export const eventsListInput = v
  .strictObject({
    afterId: v.number().int().min(0).optional(),
    limit: v.number().int().min(1).max(1000).default(200),
    ...eventFilterFields,
  })
  .optional();

/** `workers.history` and `workers.markers`: how far back, in minutes (default 10, at most a day). */
export const historyInput = v.strictObject({ minutes: v.number().int().min(1).max(1440).default(10) }).optional();

/** `workers.drain`: the worker, and how many of its sessions to list (the latest to expire first). */
export const drainInput = v.strictObject({
  worker: workerIdSchema,
  limit: v.number().int().min(0).max(1000).default(100),
});

/**
 * `lastEventId`: resume after this event id (the SSE `Last-Event-ID`, which tRPC merges into
 * the input on reconnect). Absent or null: only events recorded from now on. `"0"`: the whole
 * log, then live. Anything but an id this API could have sent is a 400: resuming "somewhere"
 * would silently lose or repeat events.
 */
export const eventsLiveInput = v
  .strictObject({
    lastEventId: v
      .string()
      .regex(/^\d{1,15}$/, 'lastEventId must be an event id (digits)')
      .nullish(),
    ...eventFilterFields,
  })
  .optional();

/**
 * `workers.watch` takes no input, but tRPC merges a `Last-Event-ID` header into the input of
 * every subscription. The stream carries no ids (each connection starts with a full snapshot),
 * so like any SSE server without ids it ignores the header, whatever it holds.
 */
export const workersWatchInput = v.strictObject({ lastEventId: v.string().nullish() }).optional();

/** `supervisor.stop`: `keepWorkers` leaves the workers running for the next start to re-adopt. */
export const supervisorStopInput = v.strictObject({ keepWorkers: v.boolean().default(false) }).optional();

export interface InputIssue {
  /** Dotted path of the offending field; '' for the input itself (e.g. an unknown key). */
  path: string;
  message: string;
}

/**
 * Input issues as the API reports them (`data.issues`) and its one-line message. They are
 * Standard Schema issues: what tRPC hands over (a `StandardSchemaV1Error`'s) and what a schema
 * of `@handover/validation` gives.
 */
export function describeInputError(issues: ReadonlyArray<v.StandardSchemaV1.Issue>): { message: string; issues: InputIssue[] } {
  const described = issues.map((issue) => ({
    path: (issue.path ?? []).map((segment) => String(typeof segment === 'object' ? segment.key : segment)).join('.'),
    message: issue.message,
  }));
  const message = `invalid input: ${described.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)).join('; ')}`;
  return { message, issues: described };
}
