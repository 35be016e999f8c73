/** CPU time and memory of processes, from /proc (Linux). */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** User + system CPU time of the processes, in microseconds. */
export function cpuMicros(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  return (ticks / TICKS_PER_SECOND) * 1_000_000;
}

/** User and system (kernel) CPU time of the processes, in microseconds. */
export function cpuSplitMicros(pids: number[]): { user: number; sys: number } {
  let user = 0;
  let sys = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    user += Number(fields[11]);
    sys += Number(fields[12]);
  }
  return { user: (user / TICKS_PER_SECOND) * 1_000_000, sys: (sys / TICKS_PER_SECOND) * 1_000_000 };
}

/** Resident memory of the processes, in bytes. */
export function rssBytes(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    total += match ? Number(match[1]) * 1024 : 0;
  }
  return total;
}

/** A process and its descendants (nginx's master and workers, say). */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    try {
      const children = readFileSync(`/proc/${all[i]}/task/${all[i]}/children`, 'utf8').trim();
      if (children) all.push(...children.split(' ').map(Number));
    } catch {
      // gone
    }
  }
  return all;
}

/** User + system CPU time of each thread of a process, in microseconds, by thread id (with its name). */
export function threadCpuMicros(pid: number): Map<number, { name: string; micros: number }> {
  const threads = new Map<number, { name: string; micros: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`).map(Number)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      threads.set(tid, { name, micros: ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1_000_000 });
    } catch {
      // the thread ended
    }
  }
  return threads;
}

/**
 * The CPU µs each thread spent between two `threadCpuMicros` readings of process `pid`, by label:
 * "main" for the main thread, else "<name>/<tid>" (Node names few of its threads).
 */
export function threadCpuDelta(pid: number, before: ReturnType<typeof threadCpuMicros>, after: ReturnType<typeof threadCpuMicros>): Map<string, number> {
  const spentBy = new Map<string, number>();
  for (const [tid, { name, micros }] of after) {
    const spent = micros - (before.get(tid)?.micros ?? 0);
    if (spent > 0) spentBy.set(tid === pid ? 'main' : `${name}/${tid}`, spent);
  }
  return spentBy;
}

/** Context switches of a process's main thread so far (voluntary: it waited; involuntary: it was preempted). */
export function contextSwitches(pid: number): { voluntary: number; involuntary: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(status)?.[1] ?? 0);
  return { voluntary: count('voluntary_ctxt_switches'), involuntary: count('nonvoluntary_ctxt_switches') };
}
