/**
 * Driving several Handover nodes together (`@handover/control-api/fleet`): the fleet file, every
 * node's view, the rolling detach-and-sync. Shared by the CLI (`handover fleet`) and the console.
 */
export { FLEET_FILE, FLEET_FILE_ENV, FleetFileError, isNodeName, readFleetFile, tokenVariable } from './fleet-file';
export type { FleetNodeAccess } from './fleet-file';
export { acceptingText, describeFailure, fleetClients, fleetSessions, fleetStatus, nodeView } from './fleet-status';
export type { FleetClient, FleetClientOptions, FleetNodeView } from './fleet-status';
export { rollingSync } from './rolling-sync';
export type { RollingSyncOptions, RollingSyncResult, RollingSyncStep, RollingSyncStepKind } from './rolling-sync';
