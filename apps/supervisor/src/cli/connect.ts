/** Finds the running supervisor through the configuration and opens a control API client to it. */
import { userInfo } from 'node:os';
import path from 'node:path';
import { loadConfig, loadDotEnv, urlHost } from '@handover/config';
import { createControlClient } from '@handover/control-api';
import type { ControlClient } from '@handover/control-api';
import { readControlToken } from '@handover/secrets';
import type { CliIO } from './io';

export function resolveConfigPath(io: CliIO, flag: string | undefined): string {
  return path.resolve(io.cwd, flag ?? (io.env.HANDOVER_CONFIG?.trim() || 'handover.config.json'));
}

export async function connect(io: CliIO, configFlag: string | undefined): Promise<{ client: ControlClient; url: string }> {
  const configPath = resolveConfigPath(io, configFlag);
  // .env next to the configuration may move the control port or set the token; never
  // modify the caller's environment object.
  const env: NodeJS.ProcessEnv = { ...io.env };
  await loadDotEnv(path.join(path.dirname(configPath), '.env'), env);
  // Only pass the path when the user chose one, so loadConfig's not-found message says where it looked and why.
  const config = await loadConfig({ ...(configFlag !== undefined ? { path: configFlag } : {}), env, cwd: io.cwd });
  const { token } = await readControlToken({ dataDir: config.dataDir, env });
  const url = `http://${urlHost(config.control.host)}:${config.control.port}`;
  const username = io.username ?? safeUsername(env);
  return { client: createControlClient({ url, token, actor: `cli:${username}` }), url };
}

function safeUsername(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.USERNAME ?? 'unknown';
  }
}
