import path from 'node:path';
import type { CliIO } from './io';

/** The configuration file a command means: --config, else HANDOVER_CONFIG, else ./handover.config.json. */
export function resolveConfigPath(io: CliIO, flag: string | undefined): string {
  return path.resolve(io.cwd, flag ?? (io.env.HANDOVER_CONFIG?.trim() || 'handover.config.json'));
}
