export { ConfigError } from './errors';
export type { ConfigIssue } from './errors';
export { DEFAULTS, parseConfig, poolBasePortEnvVar, poolProxyPortEnvVar } from './config';
export type { HandoverConfig, ListenConfig, ParseConfigOptions, PoolConfig } from './config';
export { CONFIG_FILE_NAME, loadConfig } from './load';
export type { LoadConfigOptions } from './load';
export { loadDotEnv, parseDotEnv } from './dotenv';
export { locateJsonError } from './json';
