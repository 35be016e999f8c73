/**
 * Slows down password guessing: after `freeAttempts` failures for one key (client address +
 * user name) every further failure locks the key out, 30 s at first and twice as long each
 * time, up to `maxLockoutMs`. In memory: a console restart forgets it, which is acceptable
 * for a loopback-bound admin tool.
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
