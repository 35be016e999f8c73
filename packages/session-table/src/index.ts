export { SessionTable } from './session-table';
export { DEFAULT_MAX_SESSIONS } from './types';
export type { SessionCount, SessionDetail, SessionOwner, ReleaseReason, SessionTableOptions, SessionLimitInfo, SessionListener, SessionPin } from './types';
