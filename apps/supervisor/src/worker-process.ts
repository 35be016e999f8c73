import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { LogBuffer } from './log-buffer';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnWorkerOptions {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  logs: LogBuffer;
}

/**
 * bash replaces itself with the last command of `-c` (dash does not), so SIGTERM reaches the
 * application itself rather than a shell that would die at once and cut its graceful stop.
 */
const SHELL = existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';

/**
 * A worker's OS process: run through the shell in a process group of its own, so that a
 * signal reaches the whole tree (`sh -c "node server.js"` and anything it forks) and no
 * grandchild is left behind when the worker is stopped.
 */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | null = null;
  private killTimer: NodeJS.Timeout | null = null;

  constructor(options: SpawnWorkerOptions) {
    this.child = spawn(options.command, {
      shell: SHELL,
      detached: true,
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => options.logs.write('stdout', chunk));
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => options.logs.write('stderr', chunk));
    this.exited = new Promise((resolve) => {
      const finish = (info: ExitInfo) => {
        if (this.exitInfo !== null) return;
        this.exitInfo = info;
        // Something left in the group (a command the shell could not replace itself with) is
        // killed: at once after a crash; after the grace period when we are stopping it, so it
        // still gets its graceful stop.
        if (this.killTimer === null) this.signalGroup('SIGKILL');
        options.logs.flush();
        resolve(info);
      };
      this.child.once('exit', (code, signal) => finish({ code, signal }));
      this.child.once('error', (error) => {
        options.logs.write('stderr', `handover: could not start the worker: ${error.message}\n`);
        finish({ code: null, signal: null });
      });
    });
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  get hasExited(): boolean {
    return this.exitInfo !== null;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the process has exited. */
  terminate(graceMs: number): Promise<ExitInfo & { killed: boolean }> {
    if (this.exitInfo !== null) return Promise.resolve({ ...this.exitInfo, killed: false });
    let killed = false;
    this.signalGroup('SIGTERM');
    if (this.killTimer === null) {
      this.killTimer = setTimeout(() => {
        killed = this.exitInfo === null;
        this.signalGroup('SIGKILL');
      }, graceMs);
      this.killTimer.unref();
    }
    return this.exited.then((info) => ({ ...info, killed }));
  }

  /** Immediate SIGKILL of the whole group (supervisor emergency exit). */
  kill(): void {
    this.signalGroup('SIGKILL');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }
}
