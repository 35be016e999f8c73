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
  password: string;
  /** env: HANDOVER_ADMIN_PASSWORD; file/generated: `<dataDir>/admin-password`. */
  source: 'env' | 'file' | 'generated';
  file: string | null;
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
 * when the password is unset, one is generated once into `<dataDir>/admin-password` (0600) so
 * `npm start` can print it and the console can check it.
 */
export async function resolveAdminCredentials(options: DataDirOptions): Promise<AdminCredentials> {
  const env = options.env ?? process.env;
  const user = adminUser(env);
  const fromEnv = passwordFromEnv(env);
  if (fromEnv !== null) return { user, password: fromEnv, source: 'env', file: null };
  const spec = passwordFile(options.dataDir);
  const { value, source } = await resolveSecretFile(spec, () => randomSecret(15));
  return { user, password: value, source, file: spec.file };
}

/** The same, without generating: null when there is no password yet. */
export async function readAdminCredentials(options: DataDirOptions): Promise<AdminCredentials | null> {
  const env = options.env ?? process.env;
  const user = adminUser(env);
  const fromEnv = passwordFromEnv(env);
  if (fromEnv !== null) return { user, password: fromEnv, source: 'env', file: null };
  const spec = passwordFile(options.dataDir);
  const password = await readSecretFile(spec);
  return password === null ? null : { user, password, source: 'file', file: spec.file };
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
