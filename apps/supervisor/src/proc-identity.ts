import { readFileSync } from 'node:fs';

/**
 * Who a pid is. A pid alone is not an identity: after a process exits the kernel may hand its
 * number to an unrelated one. Linux's /proc/<pid>/stat field 22 (start time, in clock ticks
 * since boot) never changes for a process and differs between two processes that shared a
 * pid, so pid + start time names one process for good.
 */
export interface ProcessIdentity {
  pid: number;
  /** /proc/<pid>/stat field 22; null where there is no /proc (macOS): then the pid alone is checked. */
  startTime: string | null;
}

interface StatFields {
  state: string;
  startTime: string;
}

/** Fields 3 (state) and 22 (start time) of /proc/<pid>/stat; null when it cannot be read. */
function readStat(pid: number): StatFields | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Field 2 is the command in parentheses and may hold spaces and ')': cut after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3; field 22 is rest[19].
  const state = rest[0];
  const startTime = rest[19];
  if (state === undefined || startTime === undefined) return null;
  return { state, startTime };
}

const HAS_PROC = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/** The start time of a live process, or null (no /proc, or no such process). */
export function processStartTime(pid: number): string | null {
  return HAS_PROC ? (readStat(pid)?.startTime ?? null) : null;
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * 'alive': the very process recorded (same start time) is running; 'gone': no such pid, or
 * only a zombie is left of it (exited, not reaped yet, e.g. by a parent that is not us);
 * 'reused': the pid now belongs to another process.
 */
export function checkProcess(identity: ProcessIdentity): 'alive' | 'gone' | 'reused' {
  if (!pidExists(identity.pid)) return 'gone';
  if (!HAS_PROC) return 'alive';
  const stat = readStat(identity.pid);
  if (stat === null) return 'gone';
  if (stat.state === 'Z' || stat.state === 'X') return 'gone';
  if (identity.startTime !== null && stat.startTime !== identity.startTime) return 'reused';
  return 'alive';
}

/** Sends a signal to a whole process group (0: only looks whether it has members); false when the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}
