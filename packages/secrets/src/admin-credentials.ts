import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SecretError, randomSecret, readSecretFile, resolveSecretFile } from './secret-file';

export const ADMIN_USER_ENV = 'HANDOVER_ADMIN_USER';
export const ADMIN_PASSWORD_ENV = 'HANDOVER_ADMIN_PASSWORD';
export const ADMIN_PASSWORD_FILE = 'admin-password';
export const SESSION_SECRET_ENV = 'HANDOVER_SESSION_SECRET';
export const SESSION_SECRET_FILE = 'console-session-key';
export const DEFAULT_ADMIN_USER = 'admin';
const MIN_PASSWORD_LENGTH = 8;

export interface AdminCredentials {
  user: string;
  /**
   * The password in clear: from the environment, or just generated (so `npm start` can print it
   * once). null when it only exists as a hash in the file.
   */
  password: string | null;
  /** What a login attempt is checked against: the password itself or its scrypt hash. */
  verifier: { kind: 'plain'; password: string } | { kind: 'scrypt'; hash: string };
  /** env: HANDOVER_ADMIN_PASSWORD; file/generated: `<dataDir>/admin-password`. */
  source: 'env' | 'file' | 'generated';
  file: string | null;
}

/** scrypt cost: about 50 ms per check, 32 MiB, so a stolen file is slow to brute-force. */
const SCRYPT = { N: 32768, r: 8, p: 1, keyLength: 32, maxmem: 64 * 1024 * 1024 };

function scryptAsync(password: string, salt: Buffer, N: number, r: number, p: number, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keyLength, { N, r, p, maxmem: SCRYPT.maxmem }, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** `scrypt$N$r$p$salt$hash`, salt and hash in base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keyLength);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Checks a login attempt in constant time (for its length, too). */
export async function verifyPassword(verifier: AdminCredentials['verifier'], attempt: string): Promise<boolean> {
  if (verifier.kind === 'plain') return timingSafeEqual(digest(attempt), digest(verifier.password));
  const [scheme, N, r, p, salt, hash] = verifier.hash.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(attempt, Buffer.from(salt, 'base64url'), Number(N), Number(r), Number(p), expected.length);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export interface DataDirOptions {
  dataDir: string;
  env?: NodeJS.ProcessEnv;
}

function adminUser(env: NodeJS.ProcessEnv): string {
  const user = env[ADMIN_USER_ENV]?.trim() || DEFAULT_ADMIN_USER;
  if (!/^[\w.@-]{1,64}$/.test(user)) {
    throw new SecretError(`${ADMIN_USER_ENV} must be 1 to 64 letters, digits or . _ @ -`);
  }
  return user;
}

function passwordFromEnv(env: NodeJS.ProcessEnv): string | null {
  const password = env[ADMIN_PASSWORD_ENV];
  if (password === undefined || password === '') return null;
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new SecretError(`${ADMIN_PASSWORD_ENV} is too short: use at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  return password;
}

function passwordFile(dataDir: string) {
  return {
    file: path.join(path.resolve(dataDir), ADMIN_PASSWORD_FILE),
    what: 'the admin console password',
    minLength: MIN_PASSWORD_LENGTH,
    regenerateHint: 'run `npm start` again',
  };
}

/**
 * The console's login: `HANDOVER_ADMIN_USER` (default `admin`) and `HANDOVER_ADMIN_PASSWORD`;
 * when the password is unset, one is generated once and only its scrypt hash is kept, in
 * `<dataDir>/admin-password` (0600). The clear password is returned only on that first call,
 * for `npm start` to print.
 */
export async function resolveAdminCredentials(options: DataDirOptions): Promise<AdminCredentials> {
  const env = options.env ?? process.env;
  const user = adminUser(env);
  const fromEnv = passwordFromEnv(env);
  if (fromEnv !== null) return { user, password: fromEnv, verifier: { kind: 'plain', password: fromEnv }, source: 'env', file: null };
  const spec = passwordFile(options.dataDir);
  let generated: string | null = null;
  let hash: string | null = null;
  const existing = await readSecretFile(spec);
  if (existing === null) {
    generated = randomSecret(15);
    hash = await hashPassword(generated);
  }
  const { value, source } = await resolveSecretFile(spec, () => hash ?? '');
  const stored = await upgradeToHash(spec.file, value);
  return {
    user,
    password: source === 'generated' ? generated : null,
    verifier: { kind: 'scrypt', hash: stored },
    source,
    file: spec.file,
  };
}

/** The same, without generating: null when there is no password yet. */
export async function readAdminCredentials(options: DataDirOptions): Promise<AdminCredentials | null> {
  const env = options.env ?? process.env;
  const user = adminUser(env);
  const fromEnv = passwordFromEnv(env);
  if (fromEnv !== null) return { user, password: fromEnv, verifier: { kind: 'plain', password: fromEnv }, source: 'env', file: null };
  const spec = passwordFile(options.dataDir);
  const value = await readSecretFile(spec);
  if (value === null) return null;
  return { user, password: null, verifier: { kind: 'scrypt', hash: await upgradeToHash(spec.file, value) }, source: 'file', file: spec.file };
}

/** A password file written in clear (by hand, or by an early version) is replaced by its hash. */
async function upgradeToHash(file: string, value: string): Promise<string> {
  if (value.startsWith('scrypt$')) return value;
  const hash = await hashPassword(value);
  await writeFile(file, `${hash}\n`, { mode: 0o600 });
  return hash;
}

/**
 * The key that signs the console's session cookies: `HANDOVER_SESSION_SECRET`, or generated
 * once into `<dataDir>/console-session-key` (0600), so logins survive a console restart.
 */
export async function resolveSessionSecret(options: DataDirOptions): Promise<string> {
  const env = options.env ?? process.env;
  const fromEnv = env[SESSION_SECRET_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < 32) throw new SecretError(`${SESSION_SECRET_ENV} is too short: use at least 32 characters`);
    return fromEnv;
  }
  const { value } = await resolveSecretFile(
    {
      file: path.join(path.resolve(options.dataDir), SESSION_SECRET_FILE),
      what: 'the console session key',
      minLength: 32,
      regenerateHint: 'restart the console',
    },
    () => randomSecret(32),
  );
  return value;
}
