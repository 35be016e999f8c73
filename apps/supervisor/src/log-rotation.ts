import { existsSync, fstatSync, ftruncateSync, readSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A pool's `logs` configuration: rotate a worker's log file once it is over `maxBytes`, keep `keep` copies. */
export interface LogRotationLimits {
  maxBytes: number;
  keep: number;
}

export interface RotationResult {
  /** Bytes taken out of the live file (and copied to `<file>.1` unless `keep` is 0). */
  bytes: number;
  /**
   * Bytes at the start of the live file that were not copied: it had grown past twice the limit
   * (no supervisor rotated it for a while), and only its last `maxBytes` are kept.
   */
  dropped: number;
  /** From the first read to the truncation. */
  ms: number;
  /**
   * The copytruncate window (an upper bound): from the start of the last look at the file's size to
   * the truncation call (no await in between). A worker write completing in it is in neither the
   * copy nor the live file; one that starts later waits for the truncation and lands at offset 0.
   */
  windowMicros: number;
}

const CHUNK = 64 * 1024;
/** What the synchronous last pass may copy; more than this and the asynchronous copy goes on. */
const SYNC_CATCH_UP = 1024 * 1024;
const TEMP_SUFFIX = '.rotating';

/** `<file>.<n>`: `.1` is the newest rotated copy. */
export function rotatedPath(path: string, n: number): string {
  return `${path}.${n}`;
}

/**
 * Rotates a log file that a worker writes through an inherited O_APPEND descriptor, by
 * copy-truncate.
 *
 * Why copy-truncate: the worker's descriptor points at the inode, not the name, and it outlives
 * this supervisor (a new one re-adopts the worker); a rename would leave the worker writing to the
 * rotated file for ever, and nothing can make it reopen the path. Truncating in place keeps its
 * descriptor valid, and O_APPEND puts its next write at the new end (no sparse hole).
 *
 * The copy runs asynchronously up to the current end, then a synchronous last pass copies what
 * arrived meanwhile and truncates right after looking at the size, with no await in between:
 * only a write that lands between that `fstat` and the `ftruncate` (a few microseconds,
 * `windowMicros`) is lost. `onCopied` sees every copied chunk and its position in the live file,
 * so a tail can show lines it had not read yet.
 *
 * Older copies shift up (`.1` → `.2` …), the one past `keep` is deleted; `keep` 0 keeps none.
 * The copy is written to `<file>.rotating` and renamed to `.1` only once complete, so a crash
 * mid-copy leaves the live file whole (the next rotation starts again).
 */
export async function copyTruncate(
  path: string,
  limits: LogRotationLimits,
  onCopied?: (chunk: Buffer, at: number) => void,
): Promise<RotationResult> {
  const began = performance.now();
  const temp = `${path}${TEMP_SUFFIX}`;
  const buffer = Buffer.allocUnsafe(CHUNK);
  let live: FileHandle | null = null;
  let copy: FileHandle | null = null;
  try {
    // Read-write without O_APPEND or O_TRUNC: only to read and, at the end, ftruncate.
    live = await open(path, 'r+');
    copy = limits.keep > 0 ? await open(temp, 'w', 0o600) : null;
    let position = 0;
    let dropped = 0;
    const size = (await live.stat()).size;
    if (size > 2 * limits.maxBytes) {
      // Far over the limit (no supervisor was there to rotate it): keep its last maxBytes, from a line start.
      position = await lineStartAfter(live, size - limits.maxBytes, buffer);
      dropped = position;
      const note = `[handover: ${dropped} earlier bytes of this log were dropped: it grew past twice logs.maxBytes while no supervisor rotated it]\n`;
      if (copy !== null) await copy.write(note);
    }
    const take = (bytes: number, sync: boolean): Promise<void> | void => {
      const chunk = buffer.subarray(0, bytes);
      const at = position;
      position += bytes;
      onCopied?.(chunk, at);
      if (copy === null) return;
      if (sync) writeSync(copy.fd, chunk);
      else return copy.write(chunk).then(() => undefined);
    };
    for (;;) {
      // Asynchronous: up to the end as it is now.
      let end = (await live.stat()).size;
      while (position < end) {
        const { bytesRead } = await live.read(buffer, 0, Math.min(CHUNK, end - position), position);
        if (bytesRead === 0) break;
        await take(bytesRead, false);
        if (position >= end) end = (await live.stat()).size;
      }
      // Synchronous from here on: nothing else runs between the last look at the size and the truncation.
      let seen = 0;
      for (let pass = 0; pass < 8; pass++) {
        const windowStart = performance.now();
        seen = fstatSync(live.fd).size;
        if (seen === position) {
          // A concurrent append waits on the inode lock ftruncate takes, then lands at the new end.
          const windowMicros = Math.round((performance.now() - windowStart) * 1000);
          ftruncateSync(live.fd, 0);
          if (copy !== null) shift(path, temp, limits.keep);
          return { bytes: position - dropped, dropped, ms: performance.now() - began, windowMicros };
        }
        if (seen < position || seen - position > SYNC_CATCH_UP) break;
        while (position < seen) {
          const bytesRead = readSync(live.fd, buffer, 0, Math.min(CHUNK, seen - position), position);
          if (bytesRead === 0) break;
          void take(bytesRead, true);
        }
      }
      if (seen < position) {
        // Someone else truncated it meanwhile (an outside logrotate): what we copied is kept, nothing to truncate.
        if (copy !== null) shift(path, temp, limits.keep);
        return { bytes: position - dropped, dropped, ms: performance.now() - began, windowMicros: 0 };
      }
    }
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  } finally {
    await copy?.close().catch(() => undefined);
    await live?.close().catch(() => undefined);
  }
}

/** Deletes a worker's log files: the live ones, their rotated copies and any unfinished copy. */
export function removeLogFiles(files: { stdout: string; stderr: string }): void {
  for (const path of [files.stdout, files.stderr]) {
    rmSync(path, { force: true });
    let names: string[];
    try {
      names = readdirSync(dirname(path));
    } catch {
      continue;
    }
    const base = basename(path);
    for (const name of names) {
      if (!name.startsWith(`${base}.`)) continue;
      const suffix = name.slice(base.length + 1);
      if (/^\d+$/.test(suffix) || `.${suffix}` === TEMP_SUFFIX) rmSync(join(dirname(path), name), { force: true });
    }
  }
}

/** `.keep-1` → `.keep` (replacing the oldest), …, `.1` → `.2`, the new copy → `.1`; copies past `keep` go. */
function shift(path: string, temp: string, keep: number): void {
  for (let n = keep; n >= 2; n--) renameIfThere(rotatedPath(path, n - 1), rotatedPath(path, n));
  renameSync(temp, rotatedPath(path, 1));
  // Left over from a larger `keep` before a configuration change.
  for (let n = keep + 1; existsSync(rotatedPath(path, n)); n++) rmSync(rotatedPath(path, n), { force: true });
}

function renameIfThere(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** The position just after the first newline at or after `from` (or `from` itself if none is near). */
async function lineStartAfter(handle: FileHandle, from: number, buffer: Buffer): Promise<number> {
  const { bytesRead } = await handle.read(buffer, 0, CHUNK, from);
  const newline = buffer.subarray(0, bytesRead).indexOf(10);
  return newline < 0 ? from : from + newline + 1;
}
