/** Checks that need the whole configuration: unique names, ports that would collide. */
import { DEFAULTS } from './defaults';
import type { ConfigIssue } from './errors';
import type { ConfigFile } from './schema';

export function crossChecks(file: ConfigFile, proxyPort: number, controlPort: number, sources: Map<string, string>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const from = (p: string) => (sources.has(p) ? ` (from the environment variable ${sources.get(p)})` : '');
  if (proxyPort === controlPort) {
    issues.push({ path: 'control.port', message: `${controlPort} is also the proxy port (proxy.port); they must differ${from('control.port') || from('proxy.port')}` });
  }
  const firstByName = new Map<string, number>();
  const firstByBasePort = new Map<number, number>();
  file.pools.forEach((pool, i) => {
    const seen = firstByName.get(pool.name);
    if (seen !== undefined) issues.push({ path: `pools[${i}].name`, message: `duplicate pool name "${pool.name}" (also pools[${seen}].name)` });
    else firstByName.set(pool.name, i);

    const where = `pools[${i}].basePort`;
    if (pool.basePort === proxyPort) issues.push({ path: where, message: `${pool.basePort} is the proxy port (proxy.port); pick another${from(where)}` });
    else if (pool.basePort === controlPort) issues.push({ path: where, message: `${pool.basePort} is the control port (control.port); pick another${from(where)}` });
    else {
      const other = firstByBasePort.get(pool.basePort);
      if (other !== undefined) issues.push({ path: where, message: `${pool.basePort} is also the basePort of pools[${other}] ("${file.pools[other]!.name}"); pick another${from(where)}` });
      else firstByBasePort.set(pool.basePort, i);
    }

    const pp = `pools[${i}].proxyPort`;
    if (pool.proxyPort == null) {
      if (i > 0) issues.push({ path: pp, message: 'required when there are several pools: only the first pool uses proxy.port, each further pool needs a public port of its own' });
    } else {
      const clash = proxyPortClash(file, i, pool.proxyPort, proxyPort, controlPort);
      if (clash) issues.push({ path: pp, message: `${pool.proxyPort} is ${clash}; pick another${from(pp)}` });
    }
    if (pool.revision !== undefined && pool.revisionFile !== undefined) {
      issues.push({ path: `pools[${i}].revisionFile`, message: 'set either "revision" or "revisionFile", not both' });
    }
    if ((pool.routeCookie ?? DEFAULTS.pool.routeCookie) === pool.sessionCookie) {
      issues.push({ path: `pools[${i}].routeCookie`, message: `must differ from sessionCookie ("${pool.sessionCookie}"): it is the proxy's own cookie` });
    }
    const restart = pool.restart;
    if (restart?.backoffInitialMs !== undefined && restart.backoffMaxMs !== undefined && restart.backoffMaxMs < restart.backoffInitialMs) {
      issues.push({ path: `pools[${i}].restart.backoffMaxMs`, message: `must be at least restart.backoffInitialMs (${restart.backoffInitialMs})` });
    }
  });
  return issues;
}

/** What a pool's own proxyPort collides with, or null. */
function proxyPortClash(file: ConfigFile, index: number, port: number, proxyPort: number, controlPort: number): string | null {
  if (port === controlPort) return 'the control port (control.port)';
  if (index > 0 && port === proxyPort && file.pools[0]!.proxyPort == null) return 'proxy.port, the public port of the first pool';
  const base = file.pools.findIndex((o) => o.basePort === port);
  if (base >= 0) return base === index ? "this pool's basePort" : `the basePort of pools[${base}]`;
  const earlier = file.pools.findIndex((o, j) => j < index && o.proxyPort === port);
  if (earlier >= 0) return `the proxyPort of pools[${earlier}]`;
  return null;
}
