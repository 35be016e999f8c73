/**
 * Prometheus metrics for `GET /metrics` on the control port. Everything is read at scrape time
 * from what the supervisor and the proxies already keep (worker rows, pool rows, proxy stats)
 * plus counters fed by the event stream: nothing is added to the request path. prom-client
 * gives the process metrics (CPU, memory, event loop, GC); the per-worker and per-pool series are
 * written here, since the proxy's histogram is aggregated in the engine, not observed one by one.
 */
import type { HandoverEvent, PoolInfo, WorkerInfo } from '@handover/process-table';
import { LATENCY_BUCKETS_MS, type ProxyStats } from '@handover/proxy';
import type { Registry } from 'prom-client';

export interface MetricsSource {
  listWorkers(): WorkerInfo[];
  listPools(): PoolInfo[];
  onEvent(listener: (event: HandoverEvent) => void): () => void;
}

export interface PoolProxy {
  pool: string;
  stats(): ProxyStats;
}

const STATES = ['starting', 'started', 'detached', 'stopping', 'stopped', 'crashed', 'failed'] as const;
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** Counters fed by events, per pool. */
interface PoolCounters {
  drainsStarted: number;
  drainsFinished: number;
  drainsCut: number;
  crashes: number;
}

/** `\`, `"` and newlines escaped, as the text format wants label values. */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: Record<string, string>): string {
  const parts = Object.entries(pairs).map(([key, value]) => `${key}="${label(value)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** One metric family in the text exposition format. */
class Family {
  private readonly lines: string[];
  constructor(name: string, type: 'gauge' | 'counter' | 'histogram', help: string) {
    this.lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  }
  add(name: string, pairs: Record<string, string>, value: number): this {
    this.lines.push(`${name}${labels(pairs)} ${Number.isFinite(value) ? value : value > 0 ? '+Inf' : 'NaN'}`);
    return this;
  }
  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

export class Metrics {
  /** prom-client, loaded at the first scrape: a node nobody scrapes keeps its 13 MiB (docs/BENCHMARKS.md §4). */
  private registry: Promise<Registry> | null = null;
  private readonly counters = new Map<string, PoolCounters>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly source: MetricsSource,
    /** The pools' proxies (read at each scrape: they are created after the metrics). */
    private readonly proxies: () => readonly PoolProxy[],
  ) {
    this.unsubscribe = source.onEvent((event) => this.count(event));
  }

  close(): void {
    this.unsubscribe();
  }

  private countersOf(pool: string): PoolCounters {
    let found = this.counters.get(pool);
    if (found === undefined) {
      found = { drainsStarted: 0, drainsFinished: 0, drainsCut: 0, crashes: 0 };
      this.counters.set(pool, found);
    }
    return found;
  }

  private count(event: HandoverEvent): void {
    if (event.pool === null) return;
    const counters = this.countersOf(event.pool);
    if (event.type === 'worker.detached') counters.drainsStarted++;
    else if (event.type === 'worker.drained') counters.drainsFinished++;
    else if (event.type === 'worker.crashed') counters.crashes++;
    else if (event.type === 'sessions.lost' && event.data?.reason === 'drain-timeout') counters.drainsCut++;
  }

  /** The whole exposition: Handover's series, then the process's. */
  async text(): Promise<string> {
    this.registry ??= import('prom-client').then(({ Registry, collectDefaultMetrics }) => {
      const registry = new Registry();
      // CPU and memory are the process's since it started; GC and event-loop figures since this first scrape.
      collectDefaultMetrics({ register: registry, prefix: 'handover_' });
      return registry;
    });
    const registry = await this.registry;
    return `${this.workerFamilies()}${this.poolFamilies()}${this.proxyFamilies()}${await registry.metrics()}`;
  }

  private workerFamilies(): string {
    const workers = this.source.listWorkers();
    const sessions = new Family('handover_worker_sessions', 'gauge', 'Sessions bound to the worker (Handover’s count).');
    const appSessions = new Family('handover_worker_app_sessions', 'gauge', 'The app’s own session count, from the pool’s session probe.');
    const inFlight = new Family('handover_worker_requests_in_flight', 'gauge', 'Requests under way on the worker.');
    const webSockets = new Family('handover_worker_websockets', 'gauge', 'Open WebSockets to the worker.');
    const state = new Family('handover_worker_state', 'gauge', 'The worker’s state: 1 for the current one.');
    const memory = new Family('handover_worker_resident_memory_bytes', 'gauge', 'Resident memory of the worker process.');
    for (const w of workers) {
      const id = { pool: w.pool, worker: w.id, revision: w.revision };
      sessions.add('handover_worker_sessions', id, w.sessions);
      if (w.appSessions !== null && w.appSessions !== undefined) appSessions.add('handover_worker_app_sessions', id, w.appSessions);
      inFlight.add('handover_worker_requests_in_flight', id, w.inFlight);
      webSockets.add('handover_worker_websockets', id, w.webSockets);
      for (const s of STATES) state.add('handover_worker_state', { pool: w.pool, worker: w.id, state: s }, w.state === s ? 1 : 0);
      if (w.memoryRss !== null) memory.add('handover_worker_resident_memory_bytes', id, w.memoryRss);
    }
    return [sessions, appSessions, inFlight, webSockets, state, memory].map((f) => f.text()).join('');
  }

  private poolFamilies(): string {
    const pools = this.source.listPools();
    const lost = new Family('handover_sessions_lost_total', 'counter', 'Sessions lost to crashes and cut drains.');
    const started = new Family('handover_drains_started_total', 'counter', 'Workers detached (a drain began).');
    const finished = new Family('handover_drains_finished_total', 'counter', 'Detached workers that drained and stopped by themselves.');
    const cut = new Family('handover_drains_cut_total', 'counter', 'Drains ended by the maximum drain time with sessions left.');
    const crashes = new Family('handover_worker_crashes_total', 'counter', 'Workers that exited unasked (each attached one is replaced).');
    const restarts = new Family('handover_pool_restarts', 'gauge', 'Crashes counted toward the pool’s crash-loop limit.');
    const errored = new Family('handover_pool_errored', 'gauge', '1 when the pool stopped restarting after a crash loop.');
    const attached = new Family('handover_pool_attached_workers', 'gauge', 'Workers taking new sessions.');
    for (const p of pools) {
      const pool = { pool: p.name };
      const counters = this.countersOf(p.name);
      lost.add('handover_sessions_lost_total', pool, p.sessionsLost);
      started.add('handover_drains_started_total', pool, counters.drainsStarted);
      finished.add('handover_drains_finished_total', pool, counters.drainsFinished);
      cut.add('handover_drains_cut_total', pool, counters.drainsCut);
      crashes.add('handover_worker_crashes_total', pool, counters.crashes);
      restarts.add('handover_pool_restarts', pool, p.restarts);
      errored.add('handover_pool_errored', pool, p.status === 'errored' ? 1 : 0);
      attached.add('handover_pool_attached_workers', pool, p.attached);
    }
    return [lost, started, finished, cut, crashes, restarts, errored, attached].map((f) => f.text()).join('');
  }

  private proxyFamilies(): string {
    const responses = new Family('handover_proxy_responses_total', 'counter', 'Responses sent to clients by status class.');
    const own = new Family('handover_proxy_own_responses_total', 'counter', 'Responses the proxy made itself (no worker, bad request, worker failed).');
    const latency = new Family('handover_proxy_response_head_seconds', 'histogram', 'Time from a request’s start to its response head.');
    const connections = new Family('handover_proxy_client_connections', 'gauge', 'Open client connections.');
    const faults = new Family('handover_proxy_faults_total', 'counter', 'Unexpected errors caught on one connection (it ended, the process did not).');
    const timeouts = new Family('handover_proxy_timeouts_total', 'counter', 'Exchanges or connections ended by a timeout.');
    const refused = new Family('handover_proxy_refused_connections_total', 'counter', 'Client connections refused by a connection limit.');
    for (const proxy of this.proxies()) {
      const stats = proxy.stats();
      const pool = { pool: proxy.pool };
      const r = stats.responses;
      CLASSES.forEach((cls, i) => {
        responses.add('handover_proxy_responses_total', { ...pool, class: cls }, r.byClass[i + 1] ?? 0);
        own.add('handover_proxy_own_responses_total', { ...pool, class: cls }, r.ownByClass[i + 1] ?? 0);
      });
      let cumulative = 0;
      LATENCY_BUCKETS_MS.forEach((bound, i) => {
        cumulative += r.latencyBuckets[i] ?? 0;
        latency.add('handover_proxy_response_head_seconds_bucket', { ...pool, le: String(bound / 1000) }, cumulative);
      });
      latency.add('handover_proxy_response_head_seconds_bucket', { ...pool, le: '+Inf' }, r.latencyCount);
      latency.add('handover_proxy_response_head_seconds_sum', pool, r.latencySumMs / 1000);
      latency.add('handover_proxy_response_head_seconds_count', pool, r.latencyCount);
      connections.add('handover_proxy_client_connections', pool, stats.clientConnections);
      faults.add('handover_proxy_faults_total', pool, stats.faults);
      timeouts.add('handover_proxy_timeouts_total', pool, stats.timeouts);
      refused.add('handover_proxy_refused_connections_total', pool, stats.refusedConnections);
    }
    return [responses, own, latency, connections, faults, timeouts, refused].map((f) => f.text()).join('');
  }
}
