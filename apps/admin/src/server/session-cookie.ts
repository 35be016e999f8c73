/**
 * The console's session cookie: `<base64url payload>.<base64url HMAC-SHA256(payload)>` with
 * payload `{"u": user, "exp": epoch ms, "sid": session id}`. The signature proves the console
 * issued it; the session id must also still be live in the session store (session-store.ts),
 * so a logout ends it. Web Crypto only, and `crypto.subtle.verify` compares the MAC in
 * constant time.
 */

export const SESSION_COOKIE = 'handover_console';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface SessionPayload {
  /** The operator's user name. */
  u: string;
  /** Absolute expiry, epoch milliseconds (never extended). */
  exp: number;
  /** The session id: 32 random bytes, base64url; live while the session store has it. */
  sid: string;
}

const SID = /^[A-Za-z0-9_-]{43}$/;

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (key === undefined) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    keys.set(secret, key);
  }
  return key;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

export async function signSession(payload: SessionPayload, secret: string): Promise<string> {
  const body = toBase64Url(encoder.encode(JSON.stringify({ u: payload.u, exp: payload.exp, sid: payload.sid })));
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(body)));
  return `${body}.${toBase64Url(mac)}`;
}

/** The payload when the cookie is ours, untampered and not expired; null otherwise. */
export async function verifySession(
  value: string | undefined | null,
  secret: string,
  now: number = Date.now(),
): Promise<SessionPayload | null> {
  if (typeof value !== 'string' || value.length > 4096) return null;
  const dot = value.indexOf('.');
  if (dot <= 0 || dot !== value.lastIndexOf('.')) return null;
  const body = value.slice(0, dot);
  const mac = fromBase64Url(value.slice(dot + 1));
  if (mac === null || mac.length !== 32) return null;
  const valid = await crypto.subtle.verify('HMAC', await hmacKey(secret), mac, encoder.encode(body));
  if (!valid) return null;
  const json = fromBase64Url(body);
  if (json === null) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder().decode(json));
  } catch {
    return null;
  }
  if (typeof payload !== 'object' || payload === null) return null;
  const { u, exp, sid } = payload as Record<string, unknown>;
  if (typeof u !== 'string' || u === '' || typeof exp !== 'number' || !Number.isFinite(exp)) return null;
  if (typeof sid !== 'string' || !SID.test(sid)) return null;
  if (exp <= now) return null;
  return { u, exp, sid };
}

/** Reads one cookie from a `Cookie` header. */
export function cookieFromHeader(header: string | null, name: string): string | null {
  if (header === null) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
