import { existsSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_FILE_NAME, type HandoverConfig, loadConfig, loadDotEnv } from '@handover/config';

/**
 * The console finds the supervisor the way the supervisor finds itself: the same
 * `handover.config.json` (or `HANDOVER_CONFIG`) and the same `.env`, so one edit moves both.
 * Deliberately not `server-only`: proxy.ts needs the data directory too (for the session key).
 */

/** The nearest directory at or above `start` that holds `handover.config.json`; else `start`. */
export function findRepoRoot(start?: string): string {
  // The paths are only known at run time; the comments keep Turbopack's file tracer from
  // concluding it must ship the whole repository (it only matters for standalone output).
  const origin: string = start ?? process.cwd();
  let dir = path.resolve(/*turbopackIgnore: true*/ origin);
  for (;;) {
    const candidate = path.join(/*turbopackIgnore: true*/ dir, CONFIG_FILE_NAME);
    if (existsSync(/*turbopackIgnore: true*/ candidate)) return dir;
    const parent = path.dirname(/*turbopackIgnore: true*/ dir);
    if (parent === dir) return path.resolve(/*turbopackIgnore: true*/ origin);
    dir = parent;
  }
}

export interface EnvironmentOptions {
  /** Where to start looking for the repository root. Default: process.cwd(). */
  cwd?: string;
  /** Default: process.env (the .env files are loaded into it, never overriding). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Loads the root `.env`, then the `.env` next to the configuration file when that lives
 * elsewhere (where the supervisor reads it), then the configuration itself.
 */
export async function loadHandoverConfig(options: EnvironmentOptions = {}): Promise<HandoverConfig> {
  const env = options.env ?? process.env;
  const root = findRepoRoot(options.cwd);
  await loadDotEnv(path.join(root, '.env'), env);
  const configPath = path.resolve(root, env.HANDOVER_CONFIG?.trim() || CONFIG_FILE_NAME);
  const configDir = path.dirname(configPath);
  if (configDir !== root) await loadDotEnv(path.join(configDir, '.env'), env);
  return loadConfig({ path: configPath, env, cwd: root });
}

let shared: Promise<HandoverConfig> | null = null;

/**
 * The configuration of this process, read once. Only the control address and the data
 * directory are used, and those do not change while a supervisor runs. A failed read is not
 * kept, so fixing the file helps without restarting the console.
 */
export function handoverConfig(): Promise<HandoverConfig> {
  if (shared === null) {
    const loading = loadHandoverConfig();
    shared = loading;
    loading.catch(() => {
      if (shared === loading) shared = null;
    });
  }
  return shared;
}
