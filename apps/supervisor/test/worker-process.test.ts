/**
 * A worker's OS process on its own (no supervisor): real child processes, real signals. The
 * signal function is wrapped only to see which signals went out, each still sent for real.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asyncResource, disposer, tempDir } from '../../../test-support/resources';
import { LogBuffer } from '../src/log-buffer';
import { signalGroup } from '../src/proc-identity';
import { SpawnedWorkerProcess } from '../src/worker-process';
import { isProcessAlive, waitFor } from './wait';

const FIXTURES = join(import.meta.dirname, 'fixtures');

/**
 * The fixture app in a temp directory; on dispose, killed if it is still running (a failed
 * test), and the directory removed.
 */
async function spawnFixture(env: Record<string, string> = {}) {
  const tmp = await tempDir('handover-worker-process-');
  const dir = tmp.path;
  const sent: Array<{ signal: NodeJS.Signals | 0; at: number }> = [];
  const logs = new LogBuffer(100);
  const proc = new SpawnedWorkerProcess({
    command: `node ${JSON.stringify(join(FIXTURES, 'leftover-child-app.mjs'))}`,
    cwd: dir,
    env: { ...process.env, ...env },
    logs,
    logFiles: { stdout: join(dir, 'out.log'), stderr: join(dir, 'err.log') },
    signalGroup: (pgid, signal) => {
      sent.push({ signal, at: Date.now() });
      return signalGroup(pgid, signal);
    },
  });
  const line = (pattern: RegExp) => waitFor(() => logs.tail(100).find((l) => pattern.test(l.text))?.text, 20_000, `a line ${pattern}`);
  return asyncResource({ proc, sent, line }, async () => {
    if (!proc.hasExited) {
      proc.kill();
      await proc.exited;
    }
    await tmp[Symbol.asyncDispose]();
  });
}

describe('stopping a worker process', () => {
  it('a worker that exits on SIGTERM gets no SIGKILL later: the kill timer ends with it', async () => {
    const graceMs = 400;
    await using fixture = await spawnFixture();
    const { proc, sent, line } = fixture;
    await line(/^ready$/);
    const result = await proc.terminate(graceMs);
    expect(result).toMatchObject({ code: 0, killed: false });
    // Proving that something does not happen takes its whole window: the grace, and a margin.
    await new Promise((resolve) => setTimeout(resolve, graceMs * 3));
    // Before the fix the timer fired after the exit and sent SIGKILL to the (by then empty, or
    // reused) process group id.
    // (Signal 0 only looks whether the group has members; it delivers nothing.)
    expect(sent.filter((s) => s.signal !== 0).map((s) => s.signal)).toEqual(['SIGTERM']);
  });

  it('a leftover of its group that ignores SIGTERM is still killed when the grace runs out', async () => {
    const graceMs = 600;
    await using fixture = await spawnFixture({ LEFTOVER: '1' });
    const { proc, sent, line } = fixture;
    const leftover = Number(/leftover (\d+)/.exec(await line(/^leftover \d+$/))![1]);
    await using _leftover = disposer(() => isProcessAlive(leftover) && process.kill(leftover, 'SIGKILL'));
    await line(/^ready$/);
    const result = await proc.terminate(graceMs);
    expect(result).toMatchObject({ code: 0, killed: false });
    expect(isProcessAlive(leftover)).toBe(true);
    await waitFor(() => !isProcessAlive(leftover), 10_000, 'the leftover to be killed');
    // SIGTERM, the group looked at (signal 0) until the deadline, then SIGKILL.
    const signals = sent.map((s) => s.signal);
    expect(signals[0]).toBe('SIGTERM');
    expect(signals.at(-1)).toBe('SIGKILL');
    expect(signals.slice(1, -1).every((s) => s === 0)).toBe(true);
    // Not before the grace it was promised, counted from the SIGTERM as the wrapper saw both.
    expect(sent.at(-1)!.at - sent[0]!.at).toBeGreaterThanOrEqual(graceMs);
  });
});
