export { ConfigError, formatConfigWarning } from './errors';
export type { ConfigIssue, ConfigWarning } from './errors';
export { DEFAULT_EPHEMERAL_PORTS, GENERATIONS_AHEAD, parseEphemeralPorts, readEphemeralPorts } from './ephemeral-ports';
export type { EphemeralPorts } from './ephemeral-ports';
export { DEFAULTS } from './defaults';
export { poolBasePortEnvVar, poolProxyPortEnvVar } from './env-overrides';
export { poolProxyPort } from './handover-config';
export type { HandoverConfig, ListenConfig, PoolConfig, ProxyConfig, ProxyLimit, ProxyTimeout, SessionProbeConfig } from './handover-config';
export { sessionProbePatternProblem } from './schema';
export { parseConfig } from './parse-config';
export type { ParseConfigOptions } from './parse-config';
export { CONFIG_FILE_NAME, loadConfig } from './load';
export type { LoadConfigOptions } from './load';
export { loadDotEnv, parseDotEnv } from './dotenv';
export { locateJsonError } from './json';
// Kept here for its users (CLI, launch banner, console); one copy, in @handover/net.
export { urlHost } from '@handover/net';
