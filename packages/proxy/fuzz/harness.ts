/**
 * The fuzz loop: batches of concurrent streams through the proxy (a child process) to the echo
 * worker, the invariants after each batch, and for each new kind of finding a replay that
 * isolates the stream(s) behind it and shrinks them to a minimal reproduction. Seeded and
 * bounded by a stream count and a time budget.
 */
import type { Finding } from './check';
import { type GenStream, generateStream } from './generate';
import { Lab, signature } from './lab';
import { ProxyHost } from './proc';
import { runBatch } from './replay';
import { literal } from './saved';
import { EchoWorker } from './worker';

export interface FuzzOptions {
  seed: number;
  streams: number;
  seconds: number;
  /** Streams in flight at once. */
  concurrency: number;
  /** Replays spent shrinking each new finding (0: report the stream as generated). */
  minimize: number;
  log: (line: string) => void;
}

export interface Reported extends Finding {
  count: number;
  /** Other findings about the same request (one root cause, several symptoms). */
  also: string[];
  /** The reproduction showed it again on a fresh proxy. */
  reproduced?: boolean;
  /** The streams that reproduce it, played one after the other on a fresh proxy. */
  repro: GenStream[] | undefined;
}

export interface FuzzReport {
  seed: number;
  streams: number;
  requests: number;
  /** Requests the worker answered (the proxy forwarded them) / the proxy refused itself. */
  answered: number;
  refused: number;
  deaths: number;
  seconds: number;
  findings: Reported[];
  /** The slowest streams (name, ms): where the time goes. */
  slowest: [string, number][];
}

/**
 * Plays saved reproductions (fuzz/regressions/*.json), each on a fresh proxy, one connection
 * after the other; the findings, a death included (what test/fuzz.test.ts asserts empty).
 */
export async function replayAll(cases: readonly GenStream[][]): Promise<Finding[][]> {
  const worker = new EchoWorker();
  await worker.listen();
  const out: Finding[][] = [];
  try {
    for (const streams of cases) {
      const host = await ProxyHost.start(worker.port);
      const batch = await runBatch(host, worker, streams, true);
      const died: Finding = { kind: 'PROXY_DIED', stream: streams.map((s) => s.name).join(' '), request: undefined, related: undefined, why: [], detail: host.crashSummary() };
      out.push(batch.died ? [died] : batch.findings);
      await host.stop();
    }
  } finally {
    await worker.close();
  }
  return out;
}

/** Plays the given streams one after the other on a fresh proxy and says everything (--only). */
export async function inspect(streams: GenStream[], log: (line: string) => void): Promise<void> {
  const worker = new EchoWorker();
  await worker.listen();
  const host = await ProxyHost.start(worker.port);
  try {
    const out = await runBatch(host, worker, streams, true);
    out.results.forEach((r, i) => {
      log(`stream ${streams[i]?.name}: ${r.ms} ms, wrote ${r.written} B, closed ${r.closed}, timed out ${r.timedOut}, parse error ${r.parseError ?? '-'}`);
      for (const resp of r.responses) {
        const line = resp.body.toString('latin1', 0, Math.min(120, resp.body.length)).split('\n')[0];
        log(`  answer ${resp.status} ${resp.headers.map(([n, v]) => `${n}: ${v.slice(0, 30)}`).join(' | ')} :: ${JSON.stringify(line)}`);
      }
      if (r.tunnel) log(`  tunnel: sent ${JSON.stringify(r.tunnel.sent)}, got back ${JSON.stringify(r.tunnel.echoed)}`);
      log(`  received (start): ${literal(Buffer.concat(r.received).subarray(0, 300), 600)}`);
    });
    for (const rec of worker.records) {
      log(`worker conn ${rec.conn}: ${rec.method} ${rec.target.slice(0, 60)} id ${rec.id} after ${rec.prev} complete ${rec.complete} body ${rec.body.length} early ${rec.earlyAt} upgraded ${rec.upgraded}`);
      log(`  headers: ${rec.headers.map(([n, v]) => `${n}: ${v.slice(0, 40)}`).join(' | ')}`);
    }
    for (const e of worker.errors) log(`worker error conn ${e.conn} after ${e.prev}: ${e.reason}`);
    log(out.died ? `proxy died: ${host.crashSummary()}` : `findings: ${out.findings.length}`);
    for (const f of out.findings) log(`  ${f.kind} ${f.request ?? ''}: ${f.detail}`);
  } finally {
    await host.stop();
    await worker.close();
  }
}

export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const lab = await Lab.open();
  const began = Date.now();
  const deadline = began + options.seconds * 1000;
  const report: FuzzReport = { seed: options.seed, streams: 0, requests: 0, answered: 0, refused: 0, deaths: 0, seconds: 0, findings: [], slowest: [] };
  const seen = new Map<string, Reported>();

  /** One incident (the findings about one request, or one death): counted, or reported and reproduced. */
  const record = async (group: Finding[], batch: readonly GenStream[]) => {
    const first = group[0] as Finding;
    const sig = signature(first);
    const known = seen.get(sig);
    if (known !== undefined) {
      known.count++;
      return;
    }
    const entry: Reported = { ...first, also: group.slice(1).map((f) => `${f.kind}: ${f.detail}`), count: 1, repro: undefined };
    seen.set(sig, entry);
    report.findings.push(entry);
    options.log(`finding ${first.kind} in ${first.stream}: ${first.detail}`);
    const victim = batch.find((s) => s.name === first.stream);
    const cause = first.related === undefined ? undefined : batch.find((s) => s.requests.some((r) => r.id === first.related));
    let candidates = victim === undefined ? [] : cause === undefined || cause === victim ? [[victim]] : [[victim], [cause, victim]];
    if (first.kind === 'PROXY_DIED') {
      const culprit = options.minimize > 0 ? await lab.culprit(batch, sig) : undefined;
      candidates = culprit === undefined ? [] : [[culprit]];
    }
    // Reproducing is bounded per finding, so one slow finding cannot eat the run.
    if (options.minimize > 0) entry.repro = await lab.reproduce(candidates, sig, options.minimize, Math.min(deadline, Date.now() + 5000));
    entry.reproduced = entry.repro !== undefined;
    entry.repro ??= candidates[candidates.length - 1];
    if (entry.repro !== undefined && first.kind === 'PROXY_DIED') entry.stream = entry.repro.map((s) => s.name).join(' ');
  };

  let next = 0;
  try {
    while (next < options.streams && Date.now() < deadline) {
      const batch: GenStream[] = [];
      for (let i = 0; i < options.concurrency && next < options.streams; i++) batch.push(generateStream(options.seed, next++));
      const out = await lab.play(batch);
      report.streams += batch.length;
      if (out.died) report.deaths++;
      for (const s of batch) report.requests += s.requests.length;
      out.results.forEach((r, i) => report.slowest.push([(batch[i] as GenStream).name, r.ms]));
      report.slowest = report.slowest.sort((a, b) => b[1] - a[1]).slice(0, 5);
      for (const r of out.results) {
        for (const resp of r.responses) {
          if (resp.headers.some(([n]) => n.toLowerCase() === 'x-fuzz-id')) report.answered++;
          else if (resp.status >= 400 && resp.status < 500) report.refused++;
        }
      }
      const groups = new Map<string, Finding[]>();
      for (const f of out.findings) {
        const key = f.request === undefined ? signature(f) : `${f.stream}|${f.request}`;
        groups.set(key, [...(groups.get(key) ?? []), f]);
      }
      for (const group of groups.values()) await record(group, batch);
    }
  } finally {
    report.seconds = (Date.now() - began) / 1000;
    await lab.close();
  }
  return report;
}
