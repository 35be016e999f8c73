/**
 * The proxy alone (no supervisor) in front of one bench worker, for quick CPU-per-request
 * comparisons and profiles: `PORT`, `UPSTREAM_PORT`.
 * Run by quick.ts; not part of the side-by-side benchmark.
 */
import { SessionTable } from '@handover/session-table';
import { createProxy, type Route, type Upstream } from '@handover/proxy';
import { Lease } from '@handover/process-table';

const upstream: Upstream = {
  id: 'web@0',
  host: '127.0.0.1',
  port: Number(process.env.UPSTREAM_PORT),
  routable: true,
  draining: false,
  lease: new Lease(),
};
const route: Route = { sessionCookie: 'JSESSIONID', idleTimeoutMs: 3_600_000, sessions: new SessionTable<Upstream>(), target: upstream };
const proxy = createProxy({ route });
await proxy.listen(Number(process.env.PORT));
process.stdout.write('proxy ready\n');
const stop = () => void proxy.close(0).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
