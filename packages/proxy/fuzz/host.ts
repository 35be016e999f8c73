/**
 * The proxy under test, in a child process of its own (so "the process never dies" is a real
 * check): one upstream (the echo worker), short timeouts so a run stays bounded, and a debug
 * port owned by this harness (not the product) that reports the upstream's counters and every
 * onError call. Uncaught exceptions are deliberately not caught: they kill this process, and the
 * fuzzer reports the death with the stack from stderr.
 *
 * Usage (by harness.ts): node --import tsx host.ts <workerPort>; sends {port, debugPort} over IPC.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SessionTable } from '@handover/session-table';
import { createProxy, type Route, type Upstream } from '../src/index';
import { Lease } from '@handover/process-table';
import { FUZZ_KEEP_ALIVE_MS } from './check';

const workerPort = Number(process.argv[2]);
const upstream: Upstream = { id: 'echo@0', host: '127.0.0.1', port: workerPort, routable: true, draining: false, lease: new Lease() };
const route: Route = { sessionCookie: 'sid', idleTimeoutMs: 60_000, sessions: new SessionTable<Upstream>(), target: upstream };
const errors: string[] = [];
// Every timeout short (all below the client's 8 s answer deadline), so a stuck exchange ends and
// shows as a finding within the batch. Options an older engine does not know are ignored.
const timeouts: Record<string, number> = {
  headersTimeoutMs: 3000,
  requestTimeoutMs: 6000,
  bodyIdleTimeoutMs: 4000,
  keepAliveTimeoutMs: FUZZ_KEEP_ALIVE_MS,
  sendTimeoutMs: 4000,
  responseTimeoutMs: 4000,
  upstreamIdleTimeoutMs: 4000,
  upgradeTimeoutMs: 3000,
  tunnelIdleTimeoutMs: 4000,
  connectionsCheckingIntervalMs: 250,
};
const proxy = createProxy({
  route,
  onError: (error) => errors.push(error instanceof Error ? (error.stack ?? error.message) : String(error)),
  ...timeouts,
});
const port = await proxy.listen(0);

const debug = http.createServer((req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ inFlight: upstream.lease.inFlight, webSockets: upstream.lease.webSockets, errors: errors.splice(0) }));
});
await new Promise<void>((resolve) => debug.listen(0, '127.0.0.1', resolve));
process.send?.({ port, debugPort: (debug.address() as AddressInfo).port });
// The parent going away (killed, crashed) must not leave this process behind.
process.on('disconnect', () => process.exit(0));
