import { trustedClientAddress } from './forwarded';

/**
 * Slows down password guessing: after `freeAttempts` failures for one key (see `throttleKey`)
 * every further failure locks the key out, 30 s at first and twice as long each time, up to
 * `maxLockoutMs`. In memory: a console restart forgets it, which is acceptable for a
 * loopback-bound admin tool.
 *
 * Checking a password takes ~50 ms of scrypt, so parallel attempts would all pass a plain
 * "is it locked?" check before the first failure is recorded: 20 at once would get 20 checks
 * instead of 5. So an attempt is reserved (`reserve`) in the same tick as the check, counts as
 * a failure while it is being checked, and ends with exactly one of `fail`, `succeed` or
 * `release`.
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
  /** Reserved attempts whose password is being checked right now. */
  pending: number;
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

  /** Whether an attempt may be checked at all right now (reserves nothing). */
  check(key: string, now: number = Date.now()): ThrottleVerdict {
    const entry = this.live(key, now);
    if (entry === undefined) return { allowed: true };
    if (entry.lockedUntil > now) return { allowed: false, retryAfterMs: entry.lockedUntil - now };
    // Attempts in flight count as failures until they turn out right. One attempt is always
    // allowed when none is in flight (the one after a lockout ran out).
    const ifAllFail = this.lockoutAfter(entry.failures + entry.pending);
    if (entry.pending > 0 && ifAllFail > 0) return { allowed: false, retryAfterMs: ifAllFail };
    return { allowed: true };
  }

  /** `check`, and if allowed, reserves the attempt in the same tick. */
  reserve(key: string, now: number = Date.now()): ThrottleVerdict {
    const verdict = this.check(key, now);
    if (!verdict.allowed) return verdict;
    const entry = this.live(key, now) ?? this.store(key, { failures: 0, lockedUntil: 0, lastFailure: now, pending: 0 });
    entry.pending++;
    return verdict;
  }

  /** Ends a reserved attempt that was not checked after all (not the caller's failure). */
  release(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    entry.pending = Math.max(0, entry.pending - 1);
    if (entry.pending === 0 && entry.failures === 0) this.entries.delete(key);
  }

  /** Records a wrong password (ending its reservation, if any); returns the lockout it starts (0: none yet). */
  fail(key: string, now: number = Date.now()): number {
    const entry = this.live(key, now) ?? { failures: 0, lockedUntil: 0, lastFailure: now, pending: 0 };
    entry.pending = Math.max(0, entry.pending - 1);
    entry.failures++;
    entry.lastFailure = now;
    const lockout = this.lockoutAfter(entry.failures);
    entry.lockedUntil = lockout > 0 ? now + lockout : 0;
    this.store(key, entry);
    return lockout;
  }

  /** Failures before this attempt (for "n attempts left" messages). */
  failures(key: string, now: number = Date.now()): number {
    return this.live(key, now)?.failures ?? 0;
  }

  get attemptsBeforeLockout(): number {
    return this.freeAttempts;
  }

  /** A right password: the key starts over (attempts still in flight for it then count anew). */
  succeed(key: string): void {
    this.entries.delete(key);
  }

  /** The lockout the `failures`-th failure in a row starts (0: none). */
  private lockoutAfter(failures: number): number {
    const over = failures - this.freeAttempts;
    return over < 0 ? 0 : Math.min(this.maxLockoutMs, this.firstLockoutMs * 2 ** over);
  }

  /** (Re-)inserts: the Map's order is the age order for eviction. */
  private store(key: string, entry: Entry): Entry {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return entry;
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.pending === 0 && entry.lockedUntil <= now && now - entry.lastFailure > this.forgetAfterMs) {
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
  /** Reserved attempts being checked right now: they count against the cap until they end. */
  private pending = 0;
  private readonly maxFailures: number;
  private readonly windowMs: number;

  constructor(options: GlobalCapOptions = {}) {
    this.maxFailures = options.maxFailures ?? 100;
    this.windowMs = options.windowMs ?? 10 * 60_000;
  }

  /** Whether an attempt may be checked at all right now (reserves nothing). */
  check(now: number = Date.now()): ThrottleVerdict {
    this.prune(now);
    if (this.times.length + this.pending < this.maxFailures) return { allowed: true };
    // Full with failures: until the oldest leaves the window. Full only with attempts in flight:
    // at most a window, if they all fail.
    const oldest = this.times[0];
    return { allowed: false, retryAfterMs: oldest === undefined ? this.windowMs : oldest + this.windowMs - now };
  }

  /** `check`, and if allowed, reserves the attempt in the same tick. */
  reserve(now: number = Date.now()): ThrottleVerdict {
    const verdict = this.check(now);
    if (verdict.allowed) this.pending++;
    return verdict;
  }

  /** Ends a reserved attempt without a failure (right password, or not checked after all). */
  release(): void {
    this.pending = Math.max(0, this.pending - 1);
  }

  /** Records a failure (ending its reservation, if any). */
  fail(now: number = Date.now()): void {
    this.pending = Math.max(0, this.pending - 1);
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

/** How a login attempt went: refused unchecked, checked and wrong, or checked and right. */
export type LoginAttemptResult =
  | { outcome: 'locked'; retryAfterMs: number; scope: 'key' | 'global' }
  | { outcome: 'wrong'; /** the lockout this failure started (0: none yet) */ lockoutMs: number }
  | { outcome: 'ok' };

/** The per-key throttle and the global cap together, as the login action uses them. */
export class LoginGuard {
  readonly throttle: LoginThrottle;
  readonly cap: GlobalFailureCap;

  constructor(options: { throttle?: LoginThrottleOptions; cap?: GlobalCapOptions } = {}) {
    this.throttle = new LoginThrottle(options.throttle);
    this.cap = new GlobalFailureCap(options.cap);
  }

  /** Whether an attempt for `key` may be checked right now (reserves nothing). */
  check(key: string, now: number = Date.now()): GuardVerdict {
    const own = this.throttle.check(key, now);
    if (!own.allowed) return { ...own, scope: 'key' };
    const all = this.cap.check(now);
    if (!all.allowed) return { ...all, scope: 'global' };
    return { allowed: true };
  }

  /**
   * One login attempt: refused while the key (or the console) is locked out, else reserved in
   * the same tick as that check (see `LoginThrottle`), then `verify` (the slow scrypt check)
   * runs and its answer is recorded. An exception from `verify` (the credentials cannot be
   * read) is not the caller's failure: the reservation is released and the exception passed on.
   */
  async attempt(key: string, verify: () => Promise<boolean>, now: () => number = Date.now): Promise<LoginAttemptResult> {
    const own = this.throttle.reserve(key, now());
    if (!own.allowed) return { outcome: 'locked', retryAfterMs: own.retryAfterMs, scope: 'key' };
    const all = this.cap.reserve(now());
    if (!all.allowed) {
      this.throttle.release(key);
      return { outcome: 'locked', retryAfterMs: all.retryAfterMs, scope: 'global' };
    }
    let ok: boolean;
    try {
      ok = await verify();
    } catch (error) {
      this.throttle.release(key);
      this.cap.release();
      throw error;
    }
    if (!ok) {
      const at = now();
      this.cap.fail(at);
      return { outcome: 'wrong', lockoutMs: this.throttle.fail(key, at) };
    }
    this.cap.release();
    this.throttle.succeed(key);
    return { outcome: 'ok' };
  }
}
