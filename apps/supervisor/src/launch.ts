import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type HandoverConfig, poolProxyPort, urlHost } from '@handover/config';
import { startControlServer } from '@handover/control-api/server';
import { type ProxyServer, createProxy } from '@handover/proxy';
import { proxyOptions } from './proxy-options';
import { resolveControlToken, resolveRouteKey } from '@handover/secrets';
import { EventLog } from './event-log';
import { type KeeperRestart, socketKey } from './keeper';
import { SessionReportChannel } from './session-report-channel';
import { Metrics } from './metrics';
import { StateStore } from './state-store';
import { Supervisor } from './supervisor';

export interface RunningSupervisor {
  supervisor: Supervisor;
  config: HandoverConfig;
  proxies: Array<{ pool: string; port: number; url: string }>;
  control: { port: number; url: string };
  token: { value: string; source: 'env' | 'file' | 'generated'; file: string | null };
  /**
   * Graceful stop: stop accepting, let in-flight requests finish (bounded), stop every worker.
   * With `keepWorkers`, the workers are left running and recorded for the next start to re-adopt.
   */
  stop(graceMs?: number, options?: { keepWorkers?: boolean }): Promise<void>;
}

export interface LaunchOptions {
  env?: NodeJS.ProcessEnv;
  /** Re-reads the configuration on sync; defaults to the config file again. */
  reloadConfig?: () => Promise<HandoverConfig>;
  /**
   * What a `supervisor.stop` request through the control API does (after answering it).
   * Default: `stop()` with the same `keepWorkers` (the process itself keeps running).
   */
  onStopRequest?: (keepWorkers: boolean, running: RunningSupervisor) => void;
  /** Proxy sockets handed down by the keeper (`host:port` → fd), listened on instead of binding. */
  inheritedSockets?: Map<string, number>;
  /** Why the keeper started this supervisor again, for the `supervisor.started` event. */
  keeperRestart?: KeeperRestart;
}

/**
 * Brings the whole supervisor up from a validated configuration: event store, process table,
 * one proxy listener per pool, the control API, then the workers. Ports are bound before any
 * worker starts so a port clash fails fast and starts nothing.
 */
export async function launchSupervisor(config: HandoverConfig, options: LaunchOptions = {}): Promise<RunningSupervisor> {
  const env = options.env ?? process.env;
  await ensureWritableDataDir(config.dataDir);
  const token = await resolveControlToken({ dataDir: config.dataDir, env });
  const routeKey = await resolveRouteKey({ dataDir: config.dataDir });
  const events = new EventLog(join(config.dataDir, 'handover.db'));
  // The process table and the sessions, beside the event log (a file of its own, written by a
  // thread of its own): a new supervisor re-adopts the workers from it.
  const store = new StateStore(join(config.dataDir, 'state.db'));
  const reportChannel = new SessionReportChannel(token.token);
  const supervisor = new Supervisor({ config, events, store, env, reloadConfig: options.reloadConfig, routeKey, keeperRestart: options.keeperRestart, reportChannel });

  // In pool order; `fd` marks a socket inherited from the keeper, listened on only after start.
  const listeners: Array<{ pool: string; proxy: ProxyServer; port: number; fd: number | undefined }> = [];
  let control: Awaited<ReturnType<typeof startControlServer>> | undefined;
  const controlFd = options.inheritedSockets?.get(socketKey(config.control.host, config.control.port));
  const metrics = new Metrics(supervisor, () => listeners.map((l) => ({ pool: l.pool, stats: () => l.proxy.stats() })));
  const startControl = (fd: number | undefined) =>
    startControlServer({
      supervisor,
      token: token.token,
      host: config.control.host,
      port: config.control.port,
      fd,
      sessionReports: supervisor.sessionReports(),
      metrics: () => metrics.text(),
      nodeHealth: () => supervisor.nodeHealth(),
    });
  try {
    store.claim();
    for (const [index, pool] of config.pools.entries()) {
      const proxy = createProxy({
        ...proxyOptions(config.proxy),
        route: supervisor.routeOf(pool.name),
        onRelease: supervisor.onProxyRelease,
        onError: (error) => supervisor.onProxyError(pool.name, error),
      });
      const wanted = poolProxyPort(config, index);
      if (wanted === undefined) {
        throw new Error(`pools[${index}].proxyPort: pool ${pool.name} needs a proxyPort of its own (only the first pool uses proxy.port)`);
      }
      const fd = options.inheritedSockets?.get(socketKey(config.proxy.host, wanted));
      // An inherited socket is already bound (nothing to check early) and may hold connections
      // queued while the previous supervisor was gone: accept them only once the workers are
      // re-adopted (below), or they would meet an empty session table and no target (503).
      listeners.push({ pool: pool.name, proxy, port: fd === undefined ? await proxy.listen(wanted, config.proxy.host) : wanted, fd });
    }
    // The control socket may be the keeper's too (CLI calls made while a supervisor restarts
    // wait for the next one): like the proxy's, it is accepted from once the workers are back.
    if (controlFd === undefined) control = await startControl(undefined);
  } catch (error) {
    await Promise.all(listeners.filter((l) => l.fd === undefined).map((l) => l.proxy.close(0)));
    await control?.close();
    await store.close();
    events.close();
    throw error;
  }

  // Workers learn where to post session reports (an inherited control socket has the configured port).
  reportChannel.baseUrl = `http://${urlHost(config.control.host)}:${control?.port ?? config.control.port}`;
  await supervisor.start();
  for (const l of listeners) {
    if (l.fd !== undefined) expectPort(await l.proxy.listen(l.port, config.proxy.host, l.fd), l.port);
  }
  const controlServer = control ?? (await startControl(controlFd));
  if (controlFd !== undefined) expectPort(controlServer.port, config.control.port);
  let stopping: Promise<void> | undefined;
  const running: RunningSupervisor = {
    supervisor,
    config,
    proxies: listeners.map((l) => ({ pool: l.pool, port: l.port, url: `http://${urlHost(config.proxy.host)}:${l.port}/` })),
    control: { port: controlServer.port, url: controlServer.url },
    token: { value: token.token, source: token.source, file: token.file },
    stop(graceMs = 10_000, stopOptions = {}) {
      stopping ??= (async () => {
        // Requests first; WebSockets stay open while the workers stop, so clients get the
        // app's own close frame (say 1001) instead of a cut connection.
        await Promise.all(listeners.map((l) => l.proxy.close(graceMs, { keepTunnels: true })));
        if (stopOptions.keepWorkers === true) await supervisor.leave();
        else await supervisor.shutdown();
        await Promise.all(listeners.map((l) => l.proxy.closeTunnels()));
        await controlServer.close();
        metrics.close();
        await store.close();
        events.close();
      })();
      return stopping;
    },
  };
  const onStopRequest = options.onStopRequest ?? ((keepWorkers) => void running.stop(undefined, { keepWorkers }));
  supervisor.setStopHandler((keepWorkers) => onStopRequest(keepWorkers, running));
  return running;
}

/**
 * The data directory must be a directory we can write (the store, the event log, the token and
 * the worker logs live there): checked by creating it and writing a probe file in it, before any
 * port is bound or any worker started, so a bad one starts nothing.
 */
export async function ensureWritableDataDir(dataDir: string): Promise<void> {
  const fix =
    'Handover keeps its state there: make it a directory the supervisor can write to, or choose another one ' +
    '("dataDir" in the configuration, or HANDOVER_DATA_DIR in .env).';
  const notADirectory = new Error(`the data directory ${dataDir} is not a directory (it is a file). ${fix}`);
  if ((await stat(dataDir).catch(() => null))?.isDirectory() === false) throw notADirectory;
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new Error(`the data directory ${dataDir} cannot be created (${describeFsError(error)}). ${fix}`);
  }
  if (!(await stat(dataDir)).isDirectory()) throw notADirectory;
  const probeFile = join(dataDir, `.write-test-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(probeFile, '', { mode: 0o600 });
  } catch (error) {
    throw new Error(`the data directory ${dataDir} is not writable (${describeFsError(error)}). ${fix}`);
  } finally {
    await rm(probeFile, { force: true });
  }
}

function describeFsError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, '')}` : String(error);
}

/** An inherited socket must be bound where the configuration says (else listen() picked a port). */
function expectPort(actual: number, wanted: number): void {
  if (actual !== wanted) throw new Error(`the socket handed down for port ${wanted} listens on port ${actual}; restart \`handover start\``);
}

