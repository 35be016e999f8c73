import { type FileHandle, open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { LogLine } from '@handover/process-table';
import type { LogBuffer } from './log-buffer';

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
}

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
}

/**
 * Feeds a worker's LogBuffer from its log files. Workers write their stdout and stderr to files
 * in the data directory rather than to pipes, so they keep running (and printing) when the
 * supervisor is gone; the supervisor polls the files from the last offset it read. Memory stays
 * bounded: one 64 KiB buffer per read and the LogBuffer's ring.
 */
export class LogTail {
  private readonly streams: Stream[];
  private readonly intervalMs: number;
  private readonly backfillBytes: number | undefined;
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
    this.streams = (['stdout', 'stderr'] as const).map((name) => ({
      name,
      path: files[name],
      handle: null,
      offset: -1,
      decoder: new StringDecoder('utf8'),
      skipPartial: false,
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
        let text = stream.decoder.write(this.buffer.subarray(0, bytesRead));
        if (stream.skipPartial) {
          const newline = text.indexOf('\n');
          if (newline < 0) continue;
          text = text.slice(newline + 1);
          stream.skipPartial = false;
        }
        if (text !== '') this.logs.write(stream.name, text);
      }
    } catch {
      // The file is not there (yet) or went away: nothing to show, try again next tick.
    }
  }
}
