import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogBuffer } from './log-buffer';
import { type LogRotationLimits, removeLogFiles } from './log-rotation';
import { type LogFiles, LogTail } from './log-tail';
import { checkProcess, processStartTime, signalGroup } from './proc-identity';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The exit status could not be known (a re-adopted process is not our child). */
  unknown?: boolean;
}

/** Sends a signal to a process group (0: only looks whether it has members); false when it has none. */
export type GroupSignaller = (pgid: number, signal: NodeJS.Signals | 0) => boolean;

export interface SpawnWorkerOptions {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  logs: LogBuffer;
  /** Where the worker's stdout and stderr go (created or truncated). */
  logFiles: LogFiles;
  /** Size-based rotation of the log files (the pool's `logs`; a function is read at every check). */
  logRotation?: LogRotationLimits | (() => LogRotationLimits);
  /** Default: signalGroup. A test wraps it to see which signals went out. */
  signalGroup?: GroupSignaller;
}

export interface AdoptWorkerOptions {
  pid: number;
  startTime: string | null;
  logs: LogBuffer;
  logFiles: LogFiles;
  /** Size-based rotation of the log files, as for a spawned worker. */
  logRotation?: LogRotationLimits | (() => LogRotationLimits);
  /** How often the process is looked for. Default 500 ms. */
  pollMs?: number;
  /** Default: signalGroup. */
  signalGroup?: GroupSignaller;
}

/**
 * bash replaces itself with the last command of `-c` (dash does not), so SIGTERM reaches the
 * application itself rather than a shell that would die at once and cut its graceful stop.
 */
const SHELL = existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';

/** How often the group of a worker that exited during its grace is looked at for leftovers. */
const LEFTOVER_POLL_MS = 100;

/** Bytes of a re-adopted worker's log files read back, so its last lines show again. */
const BACKFILL_BYTES = 64 * 1024;

/**
 * A worker's OS process, in a process group of its own so that a signal reaches the whole tree
 * (`sh -c "node server.js"` and anything it forks) and no grandchild is left behind. Its output
 * goes to files, never to pipes held by the supervisor, so it outlives a supervisor that dies or
 * leaves on purpose (`handover stop --keep-workers`) and a new supervisor can re-adopt it.
 */
export abstract class WorkerProcess {
  readonly exited: Promise<ExitInfo>;
  protected exitInfo: ExitInfo | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  /** When the SIGKILL a stop promised is due (ms since the epoch); null when no stop was asked. */
  private killDeadline: number | null = null;
  private killedAfterGrace = false;
  private released = false;
  private resolveExit!: (info: ExitInfo) => void;
  protected readonly tail: LogTail;

  protected constructor(
    protected readonly logs: LogBuffer,
    logFiles: LogFiles,
    backfill: boolean,
    logRotation: LogRotationLimits | (() => LogRotationLimits) | undefined,
    private readonly signaller: GroupSignaller = signalGroup,
  ) {
    this.tail = new LogTail(logFiles, logs, {
      ...(backfill ? { backfillBytes: BACKFILL_BYTES } : {}),
      ...(logRotation !== undefined ? { rotation: logRotation } : {}),
    });
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  abstract get pid(): number | null;
  /** /proc start time of the process (guards a recorded pid against reuse); null when unknown. */
  abstract get startTime(): string | null;

  get hasExited(): boolean {
    return this.exitInfo !== null;
  }

  /** Called once when the process is gone: reads its last output, then resolves `exited`. */
  protected finish(info: ExitInfo): void {
    if (this.exitInfo !== null || this.released) return;
    this.exitInfo = info;
    // Something left in the group (a command the shell could not replace itself with) is
    // killed: at once after a crash; after the grace period when we are stopping it, so it
    // still gets its graceful stop.
    if (this.killDeadline === null) this.signalGroup('SIGKILL');
    else this.killLeftoversAtDeadline();
    this.stopWatching();
    void this.tail
      .drain()
      .then(() => this.tail.stop())
      .finally(() => {
        this.logs.flush();
        this.resolveExit(info);
      });
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the process has exited. */
  terminate(graceMs: number): Promise<ExitInfo & { killed: boolean }> {
    if (this.exitInfo !== null) return this.exited.then((info) => ({ ...info, killed: false }));
    this.signalGroup('SIGTERM');
    if (this.killDeadline === null) {
      this.killDeadline = Date.now() + graceMs;
      this.killTimer = setTimeout(() => {
        this.killTimer = null;
        this.killedAfterGrace = this.exitInfo === null;
        this.signalGroup('SIGKILL');
      }, graceMs);
      this.killTimer.unref();
    }
    return this.exited.then((info) => ({ ...info, killed: this.killedAfterGrace }));
  }

  /**
   * The process exited within its grace: its SIGKILL timer must not outlive it, or it would
   * signal a group id the kernel may have handed to another process by then. Leftovers of the
   * group (if any) still get SIGKILL at the deadline; the group is looked at until it is empty.
   */
  private killLeftoversAtDeadline(): void {
    if (this.killTimer !== null) clearTimeout(this.killTimer);
    this.killTimer = null;
    const deadline = this.killDeadline as number;
    const look = (): void => {
      this.killTimer = null;
      if (!this.signalGroup(0)) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        this.signalGroup('SIGKILL');
        return;
      }
      this.killTimer = setTimeout(look, Math.min(left, LEFTOVER_POLL_MS));
      this.killTimer.unref();
    };
    look();
  }

  /** Immediate SIGKILL of the whole group (supervisor emergency exit). */
  kill(): void {
    this.signalGroup('SIGKILL');
  }

  /**
   * Lets go of the process without touching it: the supervisor leaves and the worker keeps
   * running for the next supervisor to re-adopt. `exited` never resolves after this.
   */
  async release(): Promise<void> {
    this.released = true;
    // Let go of means no signal later either.
    if (this.killTimer !== null) clearTimeout(this.killTimer);
    this.killTimer = null;
    this.stopWatching();
    await this.tail.stop();
  }

  protected abstract stopWatching(): void;

  /** False when signalling the group could hit an unrelated process (the pid was reused). */
  protected mayStillSignal(): boolean {
    return true;
  }

  private signalGroup(signal: NodeJS.Signals | 0): boolean {
    const pid = this.pid;
    return pid !== null && this.mayStillSignal() && this.signaller(pid, signal);
  }
}

/** A worker this supervisor spawned: its exit is the child's 'exit' event. */
export class SpawnedWorkerProcess extends WorkerProcess {
  readonly child: ChildProcess;
  private readonly recordedStartTime: string | null;

  constructor(options: SpawnWorkerOptions) {
    super(options.logs, options.logFiles, false, options.logRotation, options.signalGroup);
    // Rotated copies left by an earlier worker of the same name (a data directory whose state was reset).
    removeLogFiles(options.logFiles);
    const out = openLog(options.logFiles.stdout);
    const err = openLog(options.logFiles.stderr);
    try {
      this.child = spawn(options.command, {
        shell: SHELL,
        detached: true,
        cwd: options.cwd,
        env: options.env,
        stdio: ['ignore', out, err],
      });
    } finally {
      // The child has its own copies; ours would only keep the files open.
      closeSync(out);
      closeSync(err);
    }
    this.recordedStartTime = this.child.pid === undefined ? null : processStartTime(this.child.pid);
    this.tail.start();
    this.child.once('exit', (code, signal) => this.finish({ code, signal }));
    this.child.once('error', (error) => {
      options.logs.write('stderr', `handover: could not start the worker: ${error.message}\n`);
      this.finish({ code: null, signal: null });
    });
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  get startTime(): string | null {
    return this.recordedStartTime;
  }

  protected stopWatching(): void {
    this.child.removeAllListeners('exit');
    this.child.removeAllListeners('error');
    this.child.once('error', () => undefined);
  }
}

/**
 * A worker a previous supervisor spawned and this one re-adopted. It is not our child, so no
 * 'exit' event comes: the pid (and its start time) is looked for every `pollMs`, and its
 * disappearance is its exit, with an unknown status.
 */
export class AdoptedWorkerProcess extends WorkerProcess {
  private readonly identity: { pid: number; startTime: string | null };
  private readonly poll: NodeJS.Timeout;

  constructor(options: AdoptWorkerOptions) {
    super(options.logs, options.logFiles, true, options.logRotation, options.signalGroup);
    this.identity = { pid: options.pid, startTime: options.startTime };
    this.tail.start();
    this.poll = setInterval(() => {
      if (checkProcess(this.identity) !== 'alive') this.finish({ code: null, signal: null, unknown: true });
    }, options.pollMs ?? 500);
    this.poll.unref();
  }

  get pid(): number | null {
    return this.identity.pid;
  }

  get startTime(): string | null {
    return this.identity.startTime;
  }

  protected stopWatching(): void {
    clearInterval(this.poll);
  }

  protected override mayStillSignal(): boolean {
    // A zombie's group may still hold children; a reused pid is someone else's.
    return checkProcess(this.identity) !== 'reused';
  }
}

function openLog(path: string): number {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // O_APPEND: every process of the group writes at the end, whatever the others wrote.
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND, 0o600);
}
