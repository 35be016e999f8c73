import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A secret that cannot be read, written or is malformed; the message says what to do. */
export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}

export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

export interface SecretFileSpec {
  file: string;
  /** What it is, for messages: "the control token". */
  what: string;
  minLength: number;
  /** Who makes a new one, for messages: "restart the supervisor". */
  regenerateHint: string;
  /** Thrown errors are of this class (callers keep their own error names). */
  error?: new (message: string) => Error;
}

/** Reads a secret file; null when it does not exist. */
export async function readSecretFile(spec: SecretFileSpec): Promise<string | null> {
  const Failure = spec.error ?? SecretError;
  let text: string;
  try {
    text = await readFile(spec.file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw new Failure(`cannot read ${spec.what} ${spec.file}: ${(error as Error).message}`);
  }
  const value = text.trim();
  if (value.length < spec.minLength) {
    throw new Failure(`${spec.what} in ${spec.file} is empty or too short: delete the file and ${spec.regenerateHint} to generate a new one`);
  }
  return value;
}

/**
 * The secret in `spec.file`, generated with `generate()` when missing (mode 0600 in a 0700
 * directory). Two processes starting at once agree on one value: the file is published
 * atomically only if absent, and the loser reads the winner's.
 */
export async function resolveSecretFile(
  spec: SecretFileSpec,
  generate: () => string,
): Promise<{ value: string; source: 'file' | 'generated' }> {
  const Failure = spec.error ?? SecretError;
  const existing = await readSecretFile(spec);
  if (existing !== null) {
    await tightenMode(spec.file);
    return { value: existing, source: 'file' };
  }
  await mkdir(path.dirname(spec.file), { recursive: true, mode: 0o700 });
  const value = generate();
  if (await publishSecretFile(spec.file, `${value}\n`, Failure, spec.what)) return { value, source: 'generated' };
  const theirs = await readSecretFile(spec);
  if (theirs === null) throw new Failure(`${spec.what} ${spec.file} disappeared while being created`);
  return { value: theirs, source: 'file' };
}

/**
 * Creates `file` with `content` only if it does not exist, so that nobody ever sees it half
 * written: the content goes to a private temporary file first (`wx`, mode 0600), which is then
 * hard-linked to the final name (fails with EEXIST when someone else won). Where hard links
 * are not supported, falls back to `wx` on the final name. Returns false when it existed.
 */
async function publishSecretFile(
  file: string,
  content: string,
  Failure: new (message: string) => Error,
  what: string,
): Promise<boolean> {
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
    throw new Failure(`cannot write ${what} ${file}: ${(error as Error).message}`);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** A secret file readable by others (copied around, umask) is made private again. */
async function tightenMode(file: string): Promise<void> {
  try {
    const info = await stat(file);
    if ((info.mode & 0o077) !== 0) await chmod(file, 0o600);
  } catch {
    // best effort: the secret still works
  }
}

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
