import { type FileHandle, open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { LogLine } from '@handover/process-table';
import type { LogBuffer } from './log-buffer';
import { type LogRotationLimits, copyTruncate } from './log-rotation';

export interface LogFiles {
  stdout: string;
  stderr: string;
}

export interface LogTailOptions {
  /** How often the files are looked at. Default 250 ms. */
  intervalMs?: number;
  /**
   * Start this many bytes before the current end (a re-adopted worker: show its last lines
   * again) instead of at the start of the file. Default: from the start.
   */
  backfillBytes?: number;
  /**
   * Size-based rotation (the pool's `logs`, read at every check so a reloaded configuration
   * applies): looked at on this timer, after each read, never per line.
   */
  rotation?: LogRotationLimits | (() => LogRotationLimits);
}

/** After a failed rotation (disk full, permissions), the next attempt waits this long. */
const ROTATION_RETRY_MS = 10_000;

const CHUNK = 64 * 1024;
/** At most this much is read per file per tick, so a flood of output never holds the loop long. */
const MAX_PER_TICK = 1024 * 1024;

interface Stream {
  name: LogLine['stream'];
  path: string;
  handle: FileHandle | null;
  offset: number;
  decoder: StringDecoder;
  /** Drop text up to the first newline (the backfill started mid-line). */
  skipPartial: boolean;
  /** No rotation attempt before this (Date.now()), after a failed one. */
  rotateAfter: number;
  /** The last rotation error shown in the log view (shown once, not at every attempt). */
  rotationError: string | null;
}

/**
 * Feeds a worker's LogBuffer from its log files. Workers write their stdout and stderr to files
 * in the data directory rather than to pipes, so they keep running (and printing) when the
 * supervisor is gone; the supervisor polls the files from the last offset it read. Memory stays
 * bounded: one 64 KiB buffer per read and the LogBuffer's ring.
 *
 * With `rotation`, a file found over `maxBytes` after a read is rotated by copy-truncate (see
 * `copyTruncate`) on the same tick: the bytes the tail had not read yet are fed to the LogBuffer
 * from the copy, then the tail goes on from offset 0 of the emptied file, so the log view neither
 * loses nor repeats lines. Only a write landing in the copytruncate window (between the last
 * fstat and the ftruncate, microseconds) is lost, from the files and the view alike. The files
 * stay under `maxBytes` plus what the worker writes in one interval (and one rotation).
 */
export class LogTail {
  private readonly streams: Stream[];
  private readonly intervalMs: number;
  private readonly backfillBytes: number | undefined;
  private readonly rotation: (() => LogRotationLimits) | null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly buffer = Buffer.allocUnsafe(CHUNK);

  constructor(
    files: LogFiles,
    private readonly logs: LogBuffer,
    options: LogTailOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 250;
    this.backfillBytes = options.backfillBytes;
    const rotation = options.rotation;
    this.rotation = rotation === undefined ? null : typeof rotation === 'function' ? rotation : () => rotation;
    this.streams = (['stdout', 'stderr'] as const).map((name) => ({
      name,
      path: files[name],
      handle: null,
      offset: -1,
      decoder: new StringDecoder('utf8'),
      skipPartial: false,
      rotateAfter: 0,
      rotationError: null,
    }));
  }

  /** Reads what is there at once (a re-adopted worker's last lines), then polls. */
  start(): void {
    void this.tick(MAX_PER_TICK).finally(() => this.schedule());
  }

  /** Reads everything written so far (the process exited: its last words matter). */
  async drain(): Promise<void> {
    while (this.running !== null) await this.running;
    await this.tick(Number.POSITIVE_INFINITY);
  }

  /** Stops polling and closes the files; the LogBuffer keeps what it has. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    while (this.running !== null) await this.running.catch(() => undefined);
    await Promise.all(this.streams.map((s) => s.handle?.close().catch(() => undefined)));
    for (const stream of this.streams) stream.handle = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick(MAX_PER_TICK).finally(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }

  private tick(limit: number): Promise<void> {
    const run = (async () => {
      for (const stream of this.streams) await this.readStream(stream, limit);
    })().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  private async readStream(stream: Stream, limit: number): Promise<void> {
    try {
      if (stream.handle === null) {
        if (this.stopped) return;
        stream.handle = await open(stream.path, 'r');
        const { size } = await stream.handle.stat();
        if (this.backfillBytes !== undefined) {
          stream.offset = Math.max(0, size - this.backfillBytes);
          stream.skipPartial = stream.offset > 0;
        } else {
          stream.offset = 0;
        }
      }
      const handle = stream.handle;
      const { size } = await handle.stat();
      // Truncated (rotated in place by someone): start again from the top.
      if (size < stream.offset) stream.offset = 0;
      let read = 0;
      while (stream.offset < size && read < limit) {
        const { bytesRead } = await handle.read(this.buffer, 0, Math.min(CHUNK, size - stream.offset), stream.offset);
        if (bytesRead === 0) break;
        stream.offset += bytesRead;
        read += bytesRead;
        this.show(stream, this.buffer.subarray(0, bytesRead));
      }
      const limits = this.rotation?.();
      if (limits !== undefined && size > limits.maxBytes && Date.now() >= stream.rotateAfter) await this.rotate(stream, limits);
    } catch {
      // The file is not there (yet) or went away: nothing to show, try again next tick.
    }
  }

  private show(stream: Stream, bytes: Buffer): void {
    let text = stream.decoder.write(bytes);
    if (stream.skipPartial) {
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      text = text.slice(newline + 1);
      stream.skipPartial = false;
    }
    if (text !== '') this.logs.write(stream.name, text);
  }

  private async rotate(stream: Stream, limits: LogRotationLimits): Promise<void> {
    try {
      // Copy-truncate, not rename: the worker's inherited O_APPEND fd outlives us and cannot be told to reopen a path.
      await copyTruncate(stream.path, limits, (chunk, at) => {
        // Bytes this tail had not read yet (it reads at most MAX_PER_TICK a tick): shown from the copy.
        const end = at + chunk.length;
        if (end <= stream.offset) return;
        this.show(stream, at >= stream.offset ? chunk : chunk.subarray(stream.offset - at));
        stream.offset = end;
      });
      // The worker's next write lands at the start of the emptied file.
      stream.offset = 0;
      stream.rotationError = null;
    } catch (error) {
      stream.rotateAfter = Date.now() + ROTATION_RETRY_MS;
      const message = `handover: could not rotate ${stream.path} (logs.maxBytes ${limits.maxBytes}): ${(error as Error).message}; trying again in ${ROTATION_RETRY_MS / 1000}s`;
      // Once per distinct error, not at every attempt.
      if (message !== stream.rotationError) this.logs.write('stderr', `${message}\n`);
      stream.rotationError = message;
    }
  }
}
