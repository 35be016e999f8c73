/**
 * PM2-style crash loop policy: a worker that dies within `minUptimeMs` of becoming ready is an
 * unstable restart; after `maxRestarts` of those in a row the pool stops restarting and shows
 * an error until an operator syncs. Delays grow exponentially so a broken release does not
 * burn the CPU. A worker that stayed up long enough resets the count.
 */
export interface CrashPolicyConfig {
  minUptimeMs: number;
  maxRestarts: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
}

export type CrashDecision =
  | { action: 'restart'; delayMs: number; unstableRestarts: number }
  | { action: 'give-up'; unstableRestarts: number };

export class CrashTracker {
  private unstable = 0;

  constructor(private config: CrashPolicyConfig) {}

  get unstableRestarts(): number {
    return this.unstable;
  }

  /** A new configuration (after a sync) keeps the count but changes the limits. */
  reconfigure(config: CrashPolicyConfig): void {
    this.config = config;
  }

  /** Decide what to do about a crash of a worker that had been up for `uptimeMs`. */
  recordCrash(uptimeMs: number): CrashDecision {
    if (uptimeMs >= this.config.minUptimeMs) this.unstable = 0;
    if (this.unstable >= this.config.maxRestarts) {
      return { action: 'give-up', unstableRestarts: this.unstable };
    }
    const delayMs = Math.min(
      this.config.backoffMaxMs,
      this.config.backoffInitialMs * 2 ** this.unstable,
    );
    this.unstable++;
    return { action: 'restart', delayMs, unstableRestarts: this.unstable };
  }

  /** An operator asked for a fresh start (sync), or a replacement stayed up. */
  reset(): void {
    this.unstable = 0;
  }
}
