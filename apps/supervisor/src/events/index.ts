/**
 * The event vocabulary: every event the supervisor records is built here, typed, so its texts
 * can be read (and kept consistent) in one place. `worker.*` builders name the pool and worker.
 */
export * as workerEvents from './worker-events';
export * from './supervisor-events';
export * from './pool-events';
export { SUPERVISOR, count, describeExit, firstLine, seconds, wasWere } from './format';
