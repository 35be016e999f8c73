import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HandoverConfig, poolProxyPort } from '@handover/config';

/**
 * The keeper: `handover start`'s own process, like nginx's master. It binds the public
 * proxy ports and the control API's, hands them to the real supervisor (a child process) as inherited file
 * descriptors, and restarts that supervisor if it dies unexpectedly (a bug, the OOM killer,
 * `kill -9`). The sockets stay open in between, so clients that connect meanwhile wait in the
 * kernel's accept queue and are served by the next supervisor, which re-adopts the workers and
 * their sessions. It does nothing per request: it never accepts a connection itself.
 */

/** Set in the supervisor child: `host:port=fd,…` of the sockets it inherits. */
export const INHERITED_SOCKETS_ENV = 'HANDOVER_INHERITED_SOCKETS';
/** Set in a supervisor the keeper restarted: why (recorded in its `supervisor.started` event). */
export const KEEPER_RESTART_ENV = 'HANDOVER_KEEPER_RESTART';
/** `HANDOVER_KEEPER=0` runs the supervisor in this process, without a keeper. */
export const KEEPER_ENV = 'HANDOVER_KEEPER';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'handover.mjs');

/** From this many restarts in a row, the keeper and the new supervisor call it a crash loop. */
export const CRASH_LOOP_AFTER = 3;

/** What the keeper tells a supervisor it restarted (JSON in KEEPER_RESTART_ENV). */
export interface KeeperRestart {
  previousPid: number;
  /** How the previous one ended: `SIGKILL`, `exit code 70`. */
  cause: string;
  /** Restarts since the last supervisor that stayed up for a healthy stretch. */
  restartsInRow: number;
  /** How long the keeper waited before this start. */
  delayMs: number;
  maxDelayMs: number;
}

/**
 * The wait before each restart: 0.1 s, doubling, capped at 30 s, like systemd's stepped
 * RestartSec or PM2's exponential back-off (nginx's master restarts at once; a supervisor start
 * costs about a second of CPU, so a tight loop would starve the workers). A supervisor that was
 * ready for `healthyAfterMs` before it died starts the count again. It never gives up.
 */
export class RestartBackoff {
  private inRow = 0;

  constructor(readonly options = { initialMs: 100, maxMs: 30_000, healthyAfterMs: 60_000 }) {}

  /** A supervisor died after `readyForMs` of being ready (0: never ready). */
  next(readyForMs: number): { delayMs: number; restartsInRow: number } {
    if (readyForMs >= this.options.healthyAfterMs) this.inRow = 0;
    this.inRow++;
    const delayMs = Math.min(this.options.initialMs * 2 ** Math.min(this.inRow - 1, 30), this.options.maxMs);
    return { delayMs, restartsInRow: this.inRow };
  }
}

/** The keeper's restart note, parsed; undefined when absent or not ours. */
export function parseKeeperRestart(value: string | undefined): KeeperRestart | undefined {
  if (value === undefined || value === '') return undefined;
  try {
    const note = JSON.parse(value) as KeeperRestart;
    return Number.isInteger(note.previousPid) && typeof note.cause === 'string' && Number.isInteger(note.restartsInRow) ? note : undefined;
  } catch {
    return undefined;
  }
}

/** Parses HANDOVER_INHERITED_SOCKETS; empty when unset. Keys are `host:port` as in the config. */
export function inheritedSockets(env: NodeJS.ProcessEnv): Map<string, number> {
  const sockets = new Map<string, number>();
  const value = env[INHERITED_SOCKETS_ENV];
  if (value === undefined || value === '') return sockets;
  for (const entry of value.split(',')) {
    const eq = entry.lastIndexOf('=');
    const fd = Number(entry.slice(eq + 1));
    if (eq > 0 && Number.isInteger(fd) && fd > 2) sockets.set(entry.slice(0, eq), fd);
  }
  return sockets;
}

export function socketKey(host: string, port: number): string {
  return `${host}:${port}`;
}

/** The addresses the keeper holds: every pool's proxy port (the first pool on proxy.port) and the control API's. */
export function keptAddresses(config: HandoverConfig): Array<{ host: string; port: number }> {
  const addresses: Array<{ host: string; port: number }> = [];
  for (let index = 0; index < config.pools.length; index++) {
    const port = poolProxyPort(config, index);
    if (port !== undefined && port !== 0) addresses.push({ host: config.proxy.host, port });
  }
  if (config.control.port !== 0) addresses.push({ host: config.control.host, port: config.control.port });
  return addresses;
}

interface TcpHandle {
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  getsockname(out: { port?: number }): number;
  close(): void;
  readonly fd: number;
}

/**
 * Binds a TCP socket without listening on it. The supervisor child calls listen() on the
 * inherited descriptor; the listening state belongs to the socket, so it outlives that child
 * while this process keeps the descriptor — and since this process never listens through
 * libuv, it never accepts a connection meant for the supervisor.
 */
function bindOnly(host: string, port: number): TcpHandle {
  // process.binding is the only way to a TCP handle that is bound but not listening.
  const binding = (name: string): any => (process as unknown as { binding(name: string): unknown }).binding(name);
  const { TCP, constants } = binding('tcp_wrap');
  const handle = new TCP(constants.SERVER) as TcpHandle;
  let error = host.includes(':') ? handle.bind6(host, port, 0) : handle.bind(host, port);
  // libuv defers EADDRINUSE from bind() to the next call on the handle (normally listen());
  // getsockname reports it. Unnoticed, the supervisor's listen() would pick a random port.
  if (error === 0) error = handle.getsockname({});
  if (error === 0) return handle;
  handle.close();
  const code = binding('uv').errname(error) as string;
  const hint = code === 'EADDRINUSE' ? ': another program uses that port. Stop it, or choose other ports in .env (HANDOVER_PROXY_PORT, HANDOVER_CONTROL_PORT).' : '';
  throw new Error(`cannot bind ${host}:${port} (${code})${hint}`);
}

export interface KeeperOptions {
  config: HandoverConfig;
  configPath: string;
  env: NodeJS.ProcessEnv;
  /** Where the keeper's own messages go. */
  stderr?: NodeJS.WritableStream;
}

/**
 * Runs the supervisor as a child with the proxy sockets and keeps it running, whatever happens
 * to it; resolves with the exit code to leave with. SIGINT/SIGTERM are passed on once the child
 * is ready (it re-adopts the workers first, so it can stop them); during a back-off a supervisor
 * is started at once to do so. The keeper ends with the child that handled the stop.
 */
export async function runKeeper(options: KeeperOptions): Promise<number> {
  const stderr = options.stderr ?? process.stderr;
  const say = (text: string) => stderr.write(`handover keeper: ${text}\n`);
  const handles: Array<{ key: string; handle: TcpHandle }> = [];
  try {
    for (const { host, port } of keptAddresses(options.config)) {
      handles.push({ key: socketKey(host, port), handle: bindOnly(host, port) });
    }
  } catch (error) {
    // Nothing started yet: a port in use, an address this machine does not have.
    for (const { handle } of handles) handle.close();
    stderr.write(`handover: ${(error as Error).message}\n`);
    return 1;
  }
  // fds 0–2 are the terminal, 3 is the IPC channel, the sockets follow.
  const stdio: Array<'inherit' | 'ipc' | number> = ['inherit', 'inherit', 'inherit', 'ipc'];
  const mapping: string[] = [];
  for (const { key, handle } of handles) {
    mapping.push(`${key}=${stdio.length}`);
    stdio.push(handle.fd);
  }

  let child: ChildProcess | undefined;
  let childReady = false;
  const signals: NodeJS.Signals[] = [];
  // A deliberate stop is under way (a signal passed on, or \`handover stop\`): nothing restarts now.
  let stopping = false;
  let released = false;
  /**
   * Once the supervisor stops on purpose it closes its listening sockets; the keeper's copies go
   * too, so new connections are refused at once instead of waiting in a queue nobody will serve.
   */
  const releaseSockets = () => {
    if (released) return;
    released = true;
    for (const { handle } of handles) handle.close();
  };
  let wake: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    signals.push(signal);
    if (child !== undefined && childReady) {
      child.kill(signal);
      stopping = true;
      releaseSockets();
    }
    else if (child !== undefined && signals.length > 1) {
      // Twice before it is ready: stop now. Its workers (if any) are recorded for the next start.
      say(`${signal} again: killing the starting supervisor (pid ${child.pid}); workers it re-adopted keep running: \`handover start\` re-adopts them`);
      child.kill('SIGKILL');
    } else if (child !== undefined) say(`${signal}: stopping once the supervisor (pid ${child.pid}) has re-adopted the workers`);
    else if (signals.length === 1) say(`${signal}: starting a supervisor now, to stop the workers`);
    wake?.();
  };
  // The keeper's own bug: say so. Its supervisor sees the IPC channel close and leaves the
  // workers running for the next \`handover start\` (as after a \`kill -9\` of the keeper).
  const onKeeperError = (error: Error) => {
    say(`unexpected error: ${error.stack ?? error}`);
    say('exiting; the supervisor leaves the workers running: `handover start` re-adopts them');
    process.exit(70);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('uncaughtException', onKeeperError);

  const backoff = new RestartBackoff();
  let restart: KeeperRestart | undefined;
  let everReady = false;
  try {
    for (;;) {
      const started = spawn(process.execPath, [...process.execArgv, BIN, 'start', '--config', options.configPath], {
        env: {
          ...options.env,
          [INHERITED_SOCKETS_ENV]: mapping.join(','),
          ...(restart === undefined ? {} : { [KEEPER_RESTART_ENV]: JSON.stringify(restart) }),
        },
        stdio,
        // Its own process group: Ctrl-C (or a signal to our group) reaches it once, through us;
        // twice would mean "stop now, kill the workers".
        detached: true,
      });
      child = started;
      childReady = false;
      let readyAt = 0;
      started.on('message', (message: { type?: string }) => {
        if (message?.type === 'stopping') {
          stopping = true;
          releaseSockets();
          return;
        }
        if (message?.type !== 'ready' || childReady) return;
        childReady = true;
        everReady = true;
        readyAt = Date.now();
        // A stop asked for while it started (or during the back-off): now it can stop the workers.
        for (const signal of signals) started.kill(signal);
        if (signals.length > 0) {
          stopping = true;
          releaseSockets();
        }
      });
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        started.once('exit', (c, s) => resolve([c, s])),
      );
      const wasReady = childReady;
      child = undefined;
      childReady = false;
      const how = signal === null ? `exit code ${code}` : signal;
      if (signals.length > 0 || stopping) {
        if (!wasReady) say(`the supervisor (pid ${started.pid}) ended (${how}) before it could stop the workers; any left running are re-adopted by the next \`handover start\``);
        return code ?? 1;
      }
      // \`handover stop\` (with or without --keep-workers): done.
      if (signal === null && code === 0) return 0;
      // The first start failed (configuration, data directory, port): it said why; nothing runs.
      if (!everReady) return code ?? 1;
      const { delayMs, restartsInRow } = backoff.next(wasReady ? Date.now() - readyAt : 0);
      restart = { previousPid: started.pid ?? 0, cause: how, restartsInRow, delayMs, maxDelayMs: backoff.options.maxMs };
      say(
        `the supervisor (pid ${started.pid}) died (${how})${wasReady ? '' : ' before it was ready'}; restart ${restartsInRow} in a row` +
          (restartsInRow >= CRASH_LOOP_AFTER ? ' — a crash loop: look at its errors above' : '') +
          `; starting a new one in ${delayMs} ms. The proxy port stays open: connections wait and are served by the new supervisor, which re-adopts the workers. \`handover stop\` or Ctrl-C stops everything.`,
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        // A stop ends the wait: the next supervisor is needed to stop the workers.
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('uncaughtException', onKeeperError);
    releaseSockets();
  }
}
