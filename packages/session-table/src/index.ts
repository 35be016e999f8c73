export { SessionTable } from './session-table';
export type { SessionOwner, ReleaseReason, SessionTableOptions } from './session-table';
