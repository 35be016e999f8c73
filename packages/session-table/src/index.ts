export { SessionTable, DEFAULT_MAX_SESSIONS } from './session-table';
export type { SessionOwner, ReleaseReason, SessionTableOptions, SessionLimitInfo, SessionPin } from './session-table';
