/**
 * The Handover control API: the tRPC router (server half, `type AppRouter` for the console),
 * the `node:http` handler and server (all of it also in `@handover/control-api/server`, without
 * the client, for the supervisor), and a typed client for the CLI and scripts.
 */
export * from './server';
export { createControlClient, trpcUrl } from './client';
export type { ControlClient, ControlClientOptions } from './client';

