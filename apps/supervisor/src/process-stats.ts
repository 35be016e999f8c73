import { readFile } from 'node:fs/promises';

/**
 * Resident memory of a process in bytes, from /proc (Linux); null where there is no /proc or
 * the process is gone. Read asynchronously: this runs on a timer next to the proxy.
 */
export async function residentMemory(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}
