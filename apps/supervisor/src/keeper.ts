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

/** Restarts allowed within RESTART_WINDOW_MS before the keeper gives up (a crash loop). */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const BACKOFF_INITIAL_MS = 100;
const BACKOFF_MAX_MS = 5_000;

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
 * Runs the supervisor as a child with the proxy sockets and keeps it running; resolves with the
 * exit code to leave with. SIGINT/SIGTERM are passed on and the keeper ends with the child.
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
  let stopSignal: NodeJS.Signals | undefined;
  const restarts: number[] = [];
  let restartNote: string | undefined;
  const forward = (signal: NodeJS.Signals) => {
    stopSignal ??= signal;
    child?.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);

  try {
    for (;;) {
      const started = spawn(process.execPath, [...process.execArgv, BIN, 'start', '--config', options.configPath], {
        env: {
          ...options.env,
          [INHERITED_SOCKETS_ENV]: mapping.join(','),
          ...(restartNote === undefined ? {} : { [KEEPER_RESTART_ENV]: restartNote }),
        },
        stdio,
        // Its own process group: Ctrl-C (or a signal to our group) reaches it once, through us;
        // twice would mean "stop now, kill the workers".
        detached: true,
      });
      child = started;
      let ready = false;
      started.on('message', (message: { type?: string }) => {
        if (message?.type === 'ready') ready = true;
      });
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        started.once('exit', (c, s) => resolve([c, s])),
      );
      child = undefined;
      const how = signal === null ? `exit code ${code}` : signal;
      if (stopSignal !== undefined || (signal === null && code === 0)) return code ?? 0;
      // Never ready: the configuration, the data directory or a port is wrong; it said why.
      if (!ready) return code ?? 1;
      const now = Date.now();
      restarts.push(now);
      while (restarts.length > 0 && (restarts[0] as number) < now - RESTART_WINDOW_MS) restarts.shift();
      if (restarts.length > MAX_RESTARTS) {
        say(`the supervisor died again (${how}): ${restarts.length} times within ${RESTART_WINDOW_MS / 1000} s, giving up. Its workers may still run: \`handover start\` re-adopts them.`);
        return 1;
      }
      const delay = Math.min(BACKOFF_INITIAL_MS * 2 ** (restarts.length - 1), BACKOFF_MAX_MS);
      restartNote = `the previous supervisor (pid ${started.pid}) died (${how}); restart ${restarts.length} of at most ${MAX_RESTARTS} within ${RESTART_WINDOW_MS / 1000} s`;
      say(`the supervisor (pid ${started.pid}) died (${how}); starting a new one in ${delay} ms. The proxy port stays open: connections wait and are served by the new supervisor, which re-adopts the workers.`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (stopSignal !== undefined) return 0;
    }
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    for (const { handle } of handles) handle.close();
  }
}
