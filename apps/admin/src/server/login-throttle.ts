import { trustedClientAddress } from './forwarded';

/**
 * Slows down password guessing: after `freeAttempts` failures for one key (see `throttleKey`)
 * every further failure locks the key out, 30 s at first and twice as long each time, up to
 * `maxLockoutMs`. In memory: a console restart forgets it, which is acceptable for a
 * loopback-bound admin tool.
 */
export interface LoginThrottleOptions {
  freeAttempts?: number;
  firstLockoutMs?: number;
  maxLockoutMs?: number;
  /** Keys remembered at most (oldest dropped first), so a flood cannot grow memory. */
  maxKeys?: number;
  /** A key with no failure for this long starts over. */
  forgetAfterMs?: number;
}

interface Entry {
  failures: number;
  lockedUntil: number;
  lastFailure: number;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly freeAttempts: number;
  private readonly firstLockoutMs: number;
  private readonly maxLockoutMs: number;
  private readonly maxKeys: number;
  private readonly forgetAfterMs: number;

  constructor(options: LoginThrottleOptions = {}) {
    this.freeAttempts = options.freeAttempts ?? 5;
    this.firstLockoutMs = options.firstLockoutMs ?? 30_000;
    this.maxLockoutMs = options.maxLockoutMs ?? 15 * 60_000;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.forgetAfterMs = options.forgetAfterMs ?? 60 * 60_000;
  }

  /** Whether an attempt may be checked at all right now. */
  check(key: string, now: number = Date.now()): ThrottleVerdict {
    const entry = this.live(key, now);
    if (entry !== undefined && entry.lockedUntil > now) return { allowed: false, retryAfterMs: entry.lockedUntil - now };
    return { allowed: true };
  }

  /** Records a wrong password; returns the lockout it starts (0: none yet). */
  fail(key: string, now: number = Date.now()): number {
    const entry = this.live(key, now) ?? { failures: 0, lockedUntil: 0, lastFailure: now };
    entry.failures++;
    entry.lastFailure = now;
    const over = entry.failures - this.freeAttempts;
    const lockout = over < 0 ? 0 : Math.min(this.maxLockoutMs, this.firstLockoutMs * 2 ** over);
    entry.lockedUntil = lockout > 0 ? now + lockout : 0;
    this.entries.delete(key); // re-insert: the Map's order is the age order for eviction
    this.entries.set(key, entry);
    while (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return lockout;
  }

  /** Failures before this attempt (for "n attempts left" messages). */
  failures(key: string, now: number = Date.now()): number {
    return this.live(key, now)?.failures ?? 0;
  }

  get attemptsBeforeLockout(): number {
    return this.freeAttempts;
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.lockedUntil <= now && now - entry.lastFailure > this.forgetAfterMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

/**
 * The throttle key of a login attempt. Behind a trusted proxy (`hops` ≥ 1): the client's
 * address as the proxy reported it, plus the user name. Otherwise the user name alone: Next
 * gives server actions no peer address that a client cannot forge (its `X-Forwarded-For` is
 * whatever the client sent, the socket's address only when it sent none), so a key with an
 * address in it would let every forged header start over. The price: anyone who can reach the
 * login page can lock the real user out for the lockout time.
 */
export function throttleKey(headers: Headers, username: string, hops: number): string {
  const user = username.toLowerCase();
  const address = trustedClientAddress(headers, hops);
  return address === null ? `user:${user}` : `client:${address}|${user}`;
}

export interface GlobalCapOptions {
  /** Failures (all keys together) allowed within `windowMs`. */
  maxFailures?: number;
  windowMs?: number;
}

/**
 * A cap on failed logins for the whole console, whatever the key: at most `maxFailures` in any
 * `windowMs` (default 100 in 10 minutes). It bounds guessing spread over many user names or
 * many (proxy-reported) addresses, and the scrypt work they cost. Reaching it refuses every
 * login, the real user's too, until the oldest failure leaves the window.
 */
export class GlobalFailureCap {
  private readonly times: number[] = [];
  private readonly maxFailures: number;
  private readonly windowMs: number;

  constructor(options: GlobalCapOptions = {}) {
    this.maxFailures = options.maxFailures ?? 100;
    this.windowMs = options.windowMs ?? 10 * 60_000;
  }

  check(now: number = Date.now()): ThrottleVerdict {
    this.prune(now);
    if (this.times.length < this.maxFailures) return { allowed: true };
    return { allowed: false, retryAfterMs: this.times[0]! + this.windowMs - now };
  }

  fail(now: number = Date.now()): void {
    this.prune(now);
    this.times.push(now);
    // Only the newest maxFailures matter for the verdict; keeps memory bounded.
    if (this.times.length > this.maxFailures) this.times.splice(0, this.times.length - this.maxFailures);
  }

  private prune(now: number): void {
    let expired = 0;
    while (expired < this.times.length && this.times[expired]! + this.windowMs <= now) expired++;
    if (expired > 0) this.times.splice(0, expired);
  }
}

export type GuardVerdict = { allowed: true } | { allowed: false; retryAfterMs: number; scope: 'key' | 'global' };

/** The per-key throttle and the global cap together, as the login action uses them. */
export class LoginGuard {
  readonly throttle: LoginThrottle;
  readonly cap: GlobalFailureCap;

  constructor(options: { throttle?: LoginThrottleOptions; cap?: GlobalCapOptions } = {}) {
    this.throttle = new LoginThrottle(options.throttle);
    this.cap = new GlobalFailureCap(options.cap);
  }

  check(key: string, now: number = Date.now()): GuardVerdict {
    const own = this.throttle.check(key, now);
    if (!own.allowed) return { ...own, scope: 'key' };
    const all = this.cap.check(now);
    if (!all.allowed) return { ...all, scope: 'global' };
    return { allowed: true };
  }

  /** Records a failure; returns the lockout it starts for this key (0: none yet). */
  fail(key: string, now: number = Date.now()): number {
    this.cap.fail(now);
    return this.throttle.fail(key, now);
  }

  succeed(key: string): void {
    this.throttle.succeed(key);
  }
}
