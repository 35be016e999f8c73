/**
 * The configuration file as it is now: re-read when it changes (a watch on its directory, with a
 * short debounce, as editors often replace the file) and on a cheap timer (a revision file, a
 * missed watch event), and before every operation. A file that does not parse or validate
 * changes nothing: the last good configuration stays, and `error` says why until it is fixed.
 * Nothing here applies a configuration to the pools: a sync does (config-reload.ts).
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { HandoverConfig, PoolConfig } from '@handover/config';

/** How long the file must be quiet after a change before it is read (an editor writes in steps). */
const DEBOUNCE_MS = 150;

export class ConfigSource {
  /** The last configuration that parsed (the file as it is now, unless `error`). */
  latest: HandoverConfig;
  /** Why the file as it is now does not parse or validate; null when it does. */
  error: string | null = null;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private reading: Promise<HandoverConfig> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    initial: HandoverConfig,
    private readonly reload: () => Promise<HandoverConfig>,
    private readonly file: string | undefined,
    private readonly intervalMs: number,
  ) {
    this.latest = initial;
  }

  /** The file's entry for a pool (the last good one). */
  pool(name: string): PoolConfig | undefined {
    return this.latest.pools.find((pool) => pool.name === name);
  }

  /**
   * Reads the file now. A read already under way may have begun before the latest change, so
   * this one waits for it and then reads again. Resolves with the configuration, or rejects with
   * the loader's error after recording it in `error`; the last good one stays in `latest`.
   */
  read(): Promise<HandoverConfig> {
    if (this.reading !== null) return this.reading.then(() => this.read(), () => this.read());
    const reading = this.reload().then(
      (config) => {
        this.latest = config;
        this.error = null;
        return config;
      },
      (error: unknown) => {
        this.error = error instanceof Error ? error.message : String(error);
        throw error;
      },
    );
    this.reading = reading;
    const done = () => {
      if (this.reading === reading) this.reading = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.check();
      }
    };
    reading.then(done, done);
    return reading;
  }

  /** A look at the file from the watch or the timer: joins a read under way (and one more follows it). */
  private check(): void {
    if (this.stopped) return;
    if (this.reading !== null) {
      this.again = true;
      return;
    }
    this.read().catch(() => undefined);
  }

  /** Watches the file and re-reads it every `intervalMs` (both unref'd). */
  start(): void {
    if (this.file !== undefined) {
      const name = basename(this.file);
      try {
        this.watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
          if (changed === null || changed.toString() === name) this.soon();
        });
        this.watcher.on('error', () => {
          // The timer still re-reads it.
          this.watcher?.close();
          this.watcher = null;
        });
      } catch {
        // No watch (inotify limits, a directory that went away): the timer is enough.
      }
    }
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => this.check(), this.intervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.timer = null;
    this.debounce = null;
  }

  private soon(): void {
    if (this.stopped) return;
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.check();
    }, DEBOUNCE_MS);
    this.debounce.unref();
  }
}
