/** Finds the running supervisor through the configuration and opens a control API client to it. */
import { userInfo } from 'node:os';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { ConfigError, DEFAULTS, loadConfig, loadDotEnv, urlHost } from '@handover/config';
import { createControlClient } from '@handover/control-api';
import type { ControlClient } from '@handover/control-api';
import { readControlToken } from '@handover/secrets';
import type { CliIO } from './io';

import { resolveConfigPath } from './config-path';

export { resolveConfigPath } from './config-path';

/**
 * `readOnly`: the command only reads (status, events, logs), so a configuration file that does
 * not parse (an edit under way) does not stop it: where the supervisor listens is taken from
 * what of the file can still be read (and the environment, and the defaults), with a warning.
 */
export async function connect(
  io: CliIO,
  configFlag: string | undefined,
  options: { readOnly?: boolean } = {},
): Promise<{ client: ControlClient; url: string }> {
  const configPath = resolveConfigPath(io, configFlag);
  // .env next to the configuration may move the control port or set the token; never
  // modify the caller's environment object.
  const env: NodeJS.ProcessEnv = { ...io.env };
  await loadDotEnv(path.join(path.dirname(configPath), '.env'), env);
  let config: { dataDir: string; control: { host: string; port: number } };
  try {
    // Only pass the path when the user chose one, so loadConfig's not-found message says where it looked and why.
    config = await loadConfig({ ...(configFlag !== undefined ? { path: configFlag } : {}), env, cwd: io.cwd });
  } catch (error) {
    const salvaged = options.readOnly === true && error instanceof ConfigError ? await salvage(configPath, env) : null;
    if (salvaged === null) throw error;
    config = salvaged;
    io.stderr.write(
      `handover: warning: the configuration is not valid now; a running supervisor keeps its last good one, so this asks it on ${config.control.host}:${config.control.port}:\n` +
        `${(error as ConfigError).message.replace(/^/gm, '  ')}\n`,
    );
  }
  const { token } = await readControlToken({ dataDir: config.dataDir, env });
  const url = `http://${urlHost(config.control.host)}:${config.control.port}`;
  const username = io.username ?? safeUsername(env);
  return { client: createControlClient({ url, token, actor: `cli:${username}` }), url };
}

export function safeUsername(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.USERNAME ?? 'unknown';
  }
}

/**
 * Where the supervisor listens and keeps its data, from a configuration file that does not parse
 * (say, half-way through an edit): the environment's overrides first (as loadConfig applies
 * them), then `control` and `dataDir` as far as they can still be read from the text, then the
 * defaults. Null when the file cannot be read at all (a missing file is no edit under way).
 */
async function salvage(configPath: string, env: NodeJS.ProcessEnv): Promise<{ dataDir: string; control: { host: string; port: number } } | null> {
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch {
    return null;
  }
  const control = /"control"\s*:\s*\{([^{}]*)\}?/.exec(text)?.[1] ?? '';
  const host = env.HANDOVER_CONTROL_HOST?.trim() || /"host"\s*:\s*"([^"]*)"/.exec(control)?.[1] || DEFAULTS.control.host;
  const portText = env.HANDOVER_CONTROL_PORT?.trim() || /"port"\s*:\s*(\d{1,5})\b/.exec(control)?.[1];
  const port = portText === undefined ? DEFAULTS.control.port : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  const dataDir = env.HANDOVER_DATA_DIR?.trim() || /"dataDir"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(text)?.[1] || DEFAULTS.dataDir;
  return { dataDir: path.resolve(path.dirname(configPath), dataDir), control: { host, port } };
}
