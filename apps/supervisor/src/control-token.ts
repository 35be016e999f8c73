import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

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

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

/** Reads the token file; null when it does not exist. */
async function readTokenFile(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw new ControlTokenError(`cannot read the control token ${file}: ${(error as Error).message}`);
  }
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ControlTokenError(
      `the control token in ${file} is empty or too short: delete the file and restart the supervisor to generate a new one`,
    );
  }
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

  const dataDir = path.resolve(options.dataDir);
  const file = path.join(dataDir, CONTROL_TOKEN_FILE);
  const existing = await readTokenFile(file);
  if (existing !== null) {
    await tightenMode(file);
    return { token: existing, source: 'file', file };
  }

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  if (await publishTokenFile(file, `${token}\n`)) return { token, source: 'generated', file };
  // Another process created it first: use theirs.
  const theirs = await readTokenFile(file);
  if (theirs === null) throw new ControlTokenError(`the control token ${file} disappeared while being created`);
  return { token: theirs, source: 'file', file };
}

/**
 * Creates `file` with `content` only if it does not exist, so that nobody ever sees it half
 * written: the content goes to a private temporary file first (`wx`, mode 0600), which is then
 * hard-linked to the final name (fails with EEXIST when someone else won). Where hard links
 * are not supported, falls back to `wx` on the final name. Returns false when it existed.
 */
async function publishTokenFile(file: string, content: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, content, { flag: 'wx', mode: 0o600 });
    try {
      await link(tmp, file);
      return true;
    } catch (error) {
      if (isErrno(error, 'EEXIST')) return false;
      if (!isErrno(error, 'EPERM') && !isErrno(error, 'ENOTSUP') && !isErrno(error, 'EXDEV')) throw error;
    }
    try {
      await writeFile(file, content, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (error) {
      if (isErrno(error, 'EEXIST')) return false;
      throw error;
    }
  } catch (error) {
    throw new ControlTokenError(`cannot write the control token ${file}: ${(error as Error).message}`);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** A token file readable by others (copied around, umask) is made private again. */
async function tightenMode(file: string): Promise<void> {
  try {
    const info = await stat(file);
    if ((info.mode & 0o077) !== 0) await chmod(file, 0o600);
  } catch {
    // best effort: the token still works
  }
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
  const file = path.join(path.resolve(options.dataDir), CONTROL_TOKEN_FILE);
  const token = await readTokenFile(file);
  if (token === null) throw new ControlTokenError(`${NO_SUPERVISOR_MESSAGE} (no ${file})`);
  return { token, source: 'file', file };
}
