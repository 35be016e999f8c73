import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type EphemeralPorts, readEphemeralPorts } from './ephemeral-ports';
import { ConfigError } from './errors';
import type { HandoverConfig } from './handover-config';
import { parseJsonFile } from './json';
import { parseConfig } from './parse-config';
import { revisionFilesOf } from './revision-file';

export const CONFIG_FILE_NAME = 'handover.config.json';

export interface LoadConfigOptions {
  /** The config file; default env.HANDOVER_CONFIG, else `<cwd>/handover.config.json`. Relative paths resolve against cwd. */
  path?: string;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Default process.cwd(). */
  cwd?: string;
  /** For the ephemeral-port warning; default: read from /proc (see readEphemeralPorts). null: no check. */
  ephemeralPorts?: EphemeralPorts | null;
}

/** Reads, validates and fills in the configuration. Throws a ConfigError for any problem. */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<HandoverConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const given = options.path ?? (env.HANDOVER_CONFIG?.trim() || undefined);
  const configPath = path.resolve(cwd, given ?? CONFIG_FILE_NAME);

  let text: string;
  try {
    text = await readFile(/*turbopackIgnore: true*/ configPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const why =
        options.path !== undefined
          ? 'the path given'
          : given !== undefined
            ? 'from HANDOVER_CONFIG'
            : `the default: ${CONFIG_FILE_NAME} in ${cwd}`;
      throw new ConfigError(
        configPath,
        [
          {
            path: '',
            message: `looked for ${configPath} (${why}) but there is no such file. Create it, or pass --config FILE (or set HANDOVER_CONFIG) to use another file.`,
          },
        ],
        'Configuration file not found:',
      );
    }
    const message = code === 'EISDIR' ? `${configPath} is a directory; pass the JSON file itself with --config FILE` : (err as Error).message;
    throw new ConfigError(configPath, [{ path: '', message }], `Cannot read ${configPath}:`);
  }

  const raw = parseJsonFile(text, configPath);
  const contents = new Map<string, string | Error>();
  await Promise.all(
    revisionFilesOf(raw, configPath).map(async (file) => {
      try {
        contents.set(file, await readFile(file, 'utf8'));
      } catch (err) {
        contents.set(file, err as Error);
      }
    }),
  );
  const ephemeralPorts = options.ephemeralPorts !== undefined ? options.ephemeralPorts : await readEphemeralPorts();
  return parseConfig(raw, {
    configPath,
    env,
    ephemeralPorts,
    readRevisionFile: (file) => {
      const got = contents.get(file);
      if (got === undefined) throw Object.assign(new Error(`not read: ${file}`), { code: 'ENOENT' });
      if (got instanceof Error) throw got;
      return got;
    },
  });
}
