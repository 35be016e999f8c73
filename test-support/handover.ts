/**
 * `handover <command>` as a real process, the way an operator runs it: spawned with a config
 * file, ready when it prints its banner, stopped by its pid (SIGTERM, which stops its workers,
 * then SIGKILL if it hangs). `startHandover` writes the config on ports chosen at that moment
 * and, if one was taken before the supervisor (or its keeper) bound it, starts again on others.
 *
 * Shared by the supervisor's process tests and the proxy benchmarks through a relative import
 * (it is not a package). Uses `import.meta` (vitest, tsx), so not for Playwright's loader.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { exitOf, freePorts, retryOnAddressInUse, waitUntilReady } from './ports';

export const REPO_ROOT = resolve(import.meta.dirname, '..');
export const HANDOVER_BIN = join(REPO_ROOT, 'apps/supervisor/bin/handover.mjs');
/** What `handover start` prints once everything is up. */
export const BANNER = 'Handover is running';
/** How long a start may take: generous, two cores and other work on the machine. */
export const START_MS = 60_000;

/** One `handover` process: its output so far and its exit code. */
export interface HandoverRun {
  child: ChildProcess;
  output: string;
  exited: Promise<number | null>;
}

export interface SpawnHandoverOptions {
  configPath: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** HANDOVER_KEEPER=1 or 0; unset: whatever the environment says (a keeper by default). */
  keeper?: boolean;
  /** The command `node` runs under, e.g. `['taskset', '-c', '1']`. */
  prefix?: string[];
  /** Flags for node itself (e.g. `--trace-gc`). */
  nodeArgs?: string[];
  /** Also given every chunk of output as it comes (a log file, the terminal). */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
}

/** `handover <args> --config <configPath>`, its stdout and stderr collected into `output`. */
export function spawnHandover(args: string[], options: SpawnHandoverOptions): HandoverRun {
  const keeper = options.keeper === undefined ? {} : { HANDOVER_KEEPER: options.keeper ? '1' : '0' };
  const command = [...(options.prefix ?? []), process.execPath, ...(options.nodeArgs ?? []), HANDOVER_BIN, ...args, '--config', options.configPath];
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, ...keeper, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: HandoverRun = { child, output: '', exited: exitOf(child).then(({ code }) => code) };
  const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = chunk.toString();
    run.output += text;
    options.onOutput?.(text, stream);
  };
  child.stdout!.on('data', collect('stdout'));
  child.stderr!.on('data', collect('stderr'));
  return run;
}

/** Waits for the banner; throws with the output when the process exits first or it never comes. */
export async function waitForBanner(run: HandoverRun, timeoutMs = START_MS): Promise<void> {
  await waitUntilReady(run.child, () => run.output.includes(BANNER), { what: '`handover start`', output: () => run.output, timeoutMs });
}

/**
 * A graceful stop by its pid: SIGTERM (the supervisor stops its workers), SIGKILL if it has not
 * exited after `graceMs`. Resolves its exit code (null when killed).
 */
export async function stopHandover(run: HandoverRun, graceMs = 15_000): Promise<number | null> {
  if (run.child.exitCode === null && run.child.signalCode === null) {
    run.child.kill('SIGTERM');
    const timer = setTimeout(() => run.child.kill('SIGKILL'), graceMs);
    await run.exited;
    clearTimeout(timer);
  }
  return run.exited;
}

export interface HandoverPorts {
  proxy: number;
  control: number;
}

/** A config file's content: the proxy and the control API on these ports, one pool. */
export function handoverConfig(ports: HandoverPorts, dataDir: string, pool: Record<string, unknown>): Record<string, unknown> {
  return { proxy: { port: ports.proxy }, control: { port: ports.control }, dataDir, pools: [pool] };
}

export interface StartHandoverOptions extends Omit<SpawnHandoverOptions, 'configPath'> {
  configPath: string;
  /** The configuration to write on these ports, before each attempt. */
  config: (ports: HandoverPorts) => unknown | Promise<unknown>;
  /** Starts the process once the config is written; default `spawnHandover(['start'], options)`. */
  launch?: () => HandoverRun;
  timeoutMs?: number;
}

export interface StartedHandover {
  run: HandoverRun;
  ports: HandoverPorts;
  configPath: string;
  /** Milliseconds from the spawn of the attempt that started to its banner. */
  readyMs: number;
}

/**
 * `handover start` on two ports chosen now (proxy and control), written into the config: ready
 * at its banner. An attempt that fails because a port was taken meanwhile (EADDRINUSE, said by
 * the supervisor or the keeper) is made again on new ports; any other failure is thrown, after
 * the process is stopped.
 */
export async function startHandover(options: StartHandoverOptions): Promise<StartedHandover> {
  const launch = options.launch ?? (() => spawnHandover(['start'], options));
  return retryOnAddressInUse(async () => {
    const [proxy, control] = (await freePorts(2)) as [number, number];
    await writeFile(options.configPath, JSON.stringify(await options.config({ proxy, control })));
    const began = Date.now();
    const run = launch();
    try {
      await waitForBanner(run, options.timeoutMs);
    } catch (error) {
      await stopHandover(run);
      throw error;
    }
    return { run, ports: { proxy, control }, configPath: options.configPath, readyMs: Date.now() - began };
  });
}

/** The config file as it is, with the proxy and control ports replaced (for `config` above). */
export async function withPorts(configPath: string, ports: HandoverPorts): Promise<Record<string, unknown>> {
  const file = JSON.parse(await readFile(configPath, 'utf8')) as { proxy?: object; control?: object };
  return { ...file, proxy: { ...file.proxy, port: ports.proxy }, control: { ...file.control, port: ports.control } };
}
