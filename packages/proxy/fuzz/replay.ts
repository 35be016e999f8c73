/**
 * Running streams and checking them: one batch (concurrent streams, then the invariants once the
 * proxy is quiet), and replays of chosen streams for isolating and minimising findings.
 */
import { checkStream, checkWorker, type Finding } from './check';
import { runStream, type StreamResult } from './client';
import type { GenRequest, GenStream } from './generate';
import type { ProxyHost } from './proc';
import type { EchoWorker, WorkerRecord } from './worker';

export interface BatchOutcome {
  results: StreamResult[];
  findings: Finding[];
  /** The proxy process died during the batch (stream findings are then meaningless). */
  died: boolean;
  /** Played one after the other: the stream during which it died. */
  culprit?: number;
}

/** The stream ("seed/index") a request id belongs to, among `streams`. */
function streamOfId(streams: readonly GenStream[], id: string | undefined): string {
  const m = /^(?:smuggled\.)?f(\d+)\./.exec(id ?? '');
  const hit = m === null ? undefined : streams.find((s) => s.requests.some((r) => r.id.startsWith(`f${m[1]}.`)));
  return hit?.name ?? '?';
}

/** Waits until the worker has had no new record for two polls (bytes still in flight get parsed). */
async function workerSettled(worker: EchoWorker): Promise<void> {
  let last = -1;
  for (let i = 0; i < 50 && worker.records.length !== last; i++) {
    last = worker.records.length;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function runBatch(host: ProxyHost, worker: EchoWorker, streams: readonly GenStream[], sequential = false): Promise<BatchOutcome> {
  worker.records.length = 0;
  worker.errors.length = 0;
  const results: StreamResult[] = [];
  if (sequential) {
    for (const [i, s] of streams.entries()) {
      results.push(await runStream(host.port, s));
      // A round trip through the proxy: a death caused by this stream shows before the next starts.
      if (!(await host.healthz()) && (await host.exited(1000))) return { results, findings: [], died: true, culprit: i };
    }
  } else results.push(...(await Promise.all(streams.map((s) => runStream(host.port, s)))));
  const t0 = Date.now();
  const healthy = await host.healthz();
  const t1 = Date.now();
  if (!healthy && (await host.exited(1000))) return { results, findings: [], died: true };
  const findings: Finding[] = [];
  const state = await host.quiet().catch(() => undefined);
  if (!host.alive() || state === undefined) return { results, findings: [], died: true };
  const t2 = Date.now();
  await workerSettled(worker);
  if (process.env.FUZZ_DEBUG) console.log(`batch ${streams[0]?.name}: streams ${Math.max(...results.map((r) => r.ms))} ms, healthz ${t1 - t0} ms, quiet ${t2 - t1} ms, settle ${Date.now() - t2} ms`);
  const first = streams[0]?.name ?? '?';
  if (state.inFlight !== 0 || state.webSockets !== 0) {
    findings.push({ kind: 'COUNTERS', stream: first, request: undefined, related: undefined, why: [], detail: `inFlight ${state.inFlight}, webSockets ${state.webSockets} 6 s after the batch's clients were done` });
  }
  for (const e of state.errors) {
    findings.push({ kind: 'ON_ERROR', stream: first, request: undefined, related: undefined, why: [], detail: e.split('\n').slice(0, 3).join(' | ') });
  }
  if (!healthy) findings.push({ kind: 'HEALTHZ', stream: first, request: undefined, related: undefined, why: [], detail: '/healthz did not answer 200 ok' });

  const known = new Map<string, GenRequest>();
  for (const s of streams) for (const r of s.requests) known.set(r.id, r);
  const byId = new Map<string, WorkerRecord[]>();
  for (const rec of worker.records) if (rec.id !== undefined && known.has(rec.id)) byId.set(rec.id, [...(byId.get(rec.id) ?? []), rec]);
  streams.forEach((s, i) => findings.push(...checkStream(s, results[i] as StreamResult, byId)));
  findings.push(...checkWorker(worker.records, worker.errors, known, (id) => streamOfId(streams, id)));
  return { results, findings, died: false };
}

/**
 * A stream made of some of `stream`'s requests (in order), with its write plan carried over:
 * what the minimiser tries. `splits: false` writes each kept request in one piece.
 */
export function rebuild(stream: GenStream, keep: readonly number[], splits = true): GenStream {
  const parts: Buffer[] = [];
  const requests: GenRequest[] = [];
  const shift = new Map<number, number>();
  let offset = 0;
  for (const k of keep) {
    const r = stream.requests[k] as GenRequest;
    shift.set(k, offset - r.start);
    requests.push({ ...r, start: offset, end: offset + (r.end - r.start) });
    parts.push(stream.bytes.subarray(r.start, r.end));
    offset += r.end - r.start;
  }
  const inside = (at: number) => keep.find((k) => {
    const r = stream.requests[k] as GenRequest;
    return at >= r.start && at < r.end;
  });
  const moved = (at: number) => {
    const k = inside(at);
    return k === undefined ? undefined : at + (shift.get(k) as number);
  };
  const waits = stream.waits.flatMap((w) => {
    const at = moved(w.at);
    const index = keep.indexOf(w.index);
    return at === undefined || index === -1 ? [] : [{ ...w, at, index }];
  });
  const cutAt = stream.cut === undefined ? undefined : moved(stream.cut.at);
  return {
    name: `${stream.name}[${keep.join(',')}]${splits ? '' : ' unsplit'}`,
    origin: stream.origin,
    requests,
    bytes: Buffer.concat(parts),
    splits: splits ? stream.splits.flatMap((s) => moved(s) ?? []).filter((s) => s > 0) : requests.map((r) => r.start).filter((s) => s > 0),
    waits,
    paced: stream.paced,
    cut: cutAt === undefined || stream.cut === undefined ? undefined : { at: cutAt, how: stream.cut.how },
  };
}
