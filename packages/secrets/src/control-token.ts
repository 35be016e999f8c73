import path from 'node:path';
import { type SecretFileSpec, randomSecret, readSecretFile, resolveSecretFile } from './secret-file';

/** The environment variable that sets the control token (and wins over the file). */
export const CONTROL_TOKEN_ENV = 'HANDOVER_CONTROL_TOKEN';
/** The file in the data directory that holds the generated control token. */
export const CONTROL_TOKEN_FILE = 'control-token';
export const MIN_TOKEN_LENGTH = 16;

export interface ControlTokenOptions {
  /** The supervisor's data directory (`.handover/` unless configured otherwise). */
  dataDir: string;
  env?: NodeJS.ProcessEnv;
}

export interface ResolvedControlToken {
  token: string;
  source: 'env' | 'file' | 'generated';
  /** The token file, or null when the token came from the environment. */
  file: string | null;
}

export class ControlTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlTokenError';
  }
}

function fromEnv(env: NodeJS.ProcessEnv): string | null {
  const raw = env[CONTROL_TOKEN_ENV];
  if (raw === undefined || raw.trim() === '') return null;
  const token = raw.trim();
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ControlTokenError(
      `${CONTROL_TOKEN_ENV} is too short (${token.length} characters): use at least ${MIN_TOKEN_LENGTH}, ` +
        `for example the output of \`node -e "console.log(crypto.randomBytes(32).toString('base64url'))"\``,
    );
  }
  if (/\s/.test(token)) throw new ControlTokenError(`${CONTROL_TOKEN_ENV} must not contain spaces`);
  return token;
}

/**
 * The token the supervisor's control API requires: `HANDOVER_CONTROL_TOKEN` when set; otherwise
 * `<dataDir>/control-token`, generated (32 random bytes, base64url, mode 0600, in a 0700
 * directory) when missing. Two supervisors starting at once agree on one token: the file is
 * published atomically only if absent, and the loser reads the winner's.
 */
export async function resolveControlToken(options: ControlTokenOptions): Promise<ResolvedControlToken> {
  const env = options.env ?? process.env;
  const fromEnvironment = fromEnv(env);
  if (fromEnvironment !== null) return { token: fromEnvironment, source: 'env', file: null };

  const { value, source } = await resolveSecretFile(tokenFile(options.dataDir), () => randomSecret(32));
  return { token: value, source, file: tokenFile(options.dataDir).file };
}

function tokenFile(dataDir: string): SecretFileSpec {
  return {
    file: path.join(path.resolve(dataDir), CONTROL_TOKEN_FILE),
    what: 'the control token',
    minLength: MIN_TOKEN_LENGTH,
    regenerateHint: 'restart the supervisor',
    error: ControlTokenError,
  };
}

export const NO_SUPERVISOR_MESSAGE =
  'no running supervisor found: start it with `npx handover start`, or set HANDOVER_CONTROL_TOKEN';

/**
 * For the CLI: the token of a running supervisor, from `HANDOVER_CONTROL_TOKEN` or the token
 * file. Never generates one.
 */
export async function readControlToken(options: ControlTokenOptions): Promise<ResolvedControlToken> {
  const env = options.env ?? process.env;
  const fromEnvironment = fromEnv(env);
  if (fromEnvironment !== null) return { token: fromEnvironment, source: 'env', file: null };
  const spec = tokenFile(options.dataDir);
  const token = await readSecretFile(spec);
  if (token === null) throw new ControlTokenError(`${NO_SUPERVISOR_MESSAGE} (no ${spec.file})`);
  return { token, source: 'file', file: spec.file };
}
