import type { ProxyConfig } from '@handover/config';
import type { ProxyOptions } from '@handover/proxy';

/** The proxy's options from `proxy` in the config: seconds to ms; what is unset keeps the proxy's default. */
export function proxyOptions(config: ProxyConfig): Partial<ProxyOptions> {
  const { timeouts: t, limits: l } = config;
  const ms = (seconds: number | undefined) => (seconds === undefined ? undefined : Math.round(seconds * 1000));
  const options: Partial<ProxyOptions> = {
    trustForwardedHeaders: config.trustForwarded,
    headersTimeoutMs: ms(t.headerSeconds),
    requestTimeoutMs: ms(t.requestSeconds),
    bodyIdleTimeoutMs: ms(t.bodyIdleSeconds),
    keepAliveTimeoutMs: ms(t.keepAliveSeconds),
    sendTimeoutMs: ms(t.sendSeconds),
    upstreamConnectTimeoutMs: ms(t.connectSeconds),
    responseTimeoutMs: ms(t.responseSeconds),
    upstreamIdleTimeoutMs: ms(t.upstreamIdleSeconds),
    upgradeTimeoutMs: ms(t.upgradeSeconds),
    tunnelIdleTimeoutMs: ms(t.tunnelIdleSeconds),
    queueTimeoutMs: ms(t.queueSeconds),
    maxConnections: l.maxConnections,
    maxConnectionsPerClient: l.maxConnectionsPerClient,
    maxConnectionsPerWorker: l.maxConnectionsPerWorker,
    maxHeaderSize: l.maxHeaderBytes,
    maxHeaderCount: l.maxHeaderCount,
    maxResponseHeaderSize: l.maxResponseHeaderBytes,
  };
  for (const key of Object.keys(options) as Array<keyof ProxyOptions>) if (options[key] === undefined) delete options[key];
  return options;
}
