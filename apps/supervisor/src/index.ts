export { Supervisor } from './supervisor';
export type { SupervisorOptions } from './supervisor';
export { launchSupervisor } from './launch';
export type { RunningSupervisor, LaunchOptions } from './launch';
export { startSupervisor } from './start';
export { EventLog } from './event-log';
