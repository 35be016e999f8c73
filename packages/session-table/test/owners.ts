import type { SessionCount } from '../src/index';

/** A session count as the table's owners keep one (process-table's Lease in the supervisor). */
export function sessionCount(): SessionCount {
  let sessions = 0;
  return {
    get sessions() {
      return sessions;
    },
    sessionsBound: (count) => void (sessions += count),
    sessionsReleased: (count) => void (sessions -= count),
  };
}
