import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { HandoverConfig } from '@handover/config';
import { startControlServer } from '@handover/control-api';
import { type ProxyServer, createProxy } from '@handover/proxy';
import { resolveControlToken } from '@handover/secrets';
import { EventLog } from './event-log';
import { Supervisor } from './supervisor';

export interface RunningSupervisor {
  supervisor: Supervisor;
  config: HandoverConfig;
  proxies: Array<{ pool: string; port: number; url: string }>;
  control: { port: number; url: string };
  token: { value: string; source: 'env' | 'file' | 'generated'; file: string | null };
  /** Graceful stop: stop accepting, let in-flight requests finish (bounded), stop every worker. */
  stop(graceMs?: number): Promise<void>;
}

export interface LaunchOptions {
  env?: NodeJS.ProcessEnv;
  /** Re-reads the configuration on sync; defaults to the config file again. */
  reloadConfig?: () => Promise<HandoverConfig>;
}

/**
 * Brings the whole supervisor up from a validated configuration: event store, process table,
 * one proxy listener per pool, the control API, then the workers. Ports are bound before any
 * worker starts so a port clash fails fast and starts nothing.
 */
export async function launchSupervisor(config: HandoverConfig, options: LaunchOptions = {}): Promise<RunningSupervisor> {
  const env = options.env ?? process.env;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const token = await resolveControlToken({ dataDir: config.dataDir, env });
  const events = new EventLog(join(config.dataDir, 'handover.db'));
  const supervisor = new Supervisor({ config, events, env, reloadConfig: options.reloadConfig });

  const listeners: Array<{ pool: string; proxy: ProxyServer; port: number }> = [];
  let control: Awaited<ReturnType<typeof startControlServer>> | undefined;
  try {
    for (const [index, pool] of config.pools.entries()) {
      const proxy = createProxy({ route: supervisor.routeOf(pool.name), onRelease: supervisor.onProxyRelease });
      const wanted = pool.proxyPort ?? (index === 0 ? config.proxy.port : undefined);
      if (wanted === undefined) {
        throw new Error(`pools[${index}].proxyPort: pool ${pool.name} needs a proxyPort of its own (only the first pool uses proxy.port)`);
      }
      const port = await proxy.listen(wanted, config.proxy.host);
      listeners.push({ pool: pool.name, proxy, port });
    }
    control = await startControlServer({
      supervisor,
      token: token.token,
      host: config.control.host,
      port: config.control.port,
    });
  } catch (error) {
    await Promise.all(listeners.map((l) => l.proxy.close(0)));
    await control?.close();
    events.close();
    throw error;
  }

  await supervisor.start();
  const controlServer = control;
  let stopping: Promise<void> | undefined;
  return {
    supervisor,
    config,
    proxies: listeners.map((l) => ({ pool: l.pool, port: l.port, url: `http://${hostForUrl(config.proxy.host)}:${l.port}/` })),
    control: { port: controlServer.port, url: controlServer.url },
    token: { value: token.token, source: token.source, file: token.file },
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        await Promise.all(listeners.map((l) => l.proxy.close(graceMs)));
        await supervisor.shutdown();
        await controlServer.close();
        events.close();
      })();
      return stopping;
    },
  };
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
