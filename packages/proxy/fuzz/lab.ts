/**
 * The bench the fuzzer works on: the echo worker (in this process) and the proxy (a child
 * process, restarted when it dies). Also reproduction: find which stream(s) of a batch show a
 * finding again on their own, and shrink them (drop requests, then the fragmentation).
 */
import type { Finding } from './check';
import { type GenStream, generateStream } from './generate';
import { ProxyHost } from './proc';
import { type BatchOutcome, rebuild, runBatch } from './replay';
import { EchoWorker } from './worker';

/** What makes two findings "the same": the kind and the detail with ids, quotes and numbers blanked. */
export function signature(f: Pick<Finding, 'kind' | 'detail'>): string {
  return `${f.kind} ${f.detail.replace(/"[^"]*"|\(.*?\)|f\d+\.\d+|smuggled\S*|\/tmp\S*|\d+/g, '#').slice(0, 100)}`;
}

export class Lab {
  private constructor(
    readonly worker: EchoWorker,
    public host: ProxyHost,
  ) {}

  static async open(): Promise<Lab> {
    const worker = new EchoWorker();
    await worker.listen();
    return new Lab(worker, await ProxyHost.start(worker.port));
  }

  /** Runs streams (together, or one after the other); a death is reported as a finding and the proxy restarted. */
  async play(streams: readonly GenStream[], sequential = false): Promise<BatchOutcome> {
    if (!this.host.alive()) await this.restart();
    const out = await runBatch(this.host, this.worker, streams, sequential);
    if (out.died) {
      const detail = this.host.crashSummary();
      out.findings = [{ kind: 'PROXY_DIED', stream: streams.map((s) => s.name).join(' '), request: undefined, related: undefined, why: [], detail }];
      await this.restart();
    } else if (out.findings.some((f) => f.kind === 'COUNTERS')) {
      // Counters that did not come back would be blamed on every later batch.
      await this.restart();
    }
    return out;
  }

  async restart(): Promise<void> {
    await this.host.stop();
    this.host = await ProxyHost.start(this.worker.port);
  }

  async close(): Promise<void> {
    await this.host.stop();
    await this.worker.close();
  }

  /** Whether playing `streams` alone shows the finding `sig` again. */
  async shows(streams: readonly GenStream[], sig: string): Promise<boolean> {
    const out = await this.play(streams, true);
    return out.findings.some((f) => signature(f) === sig);
  }

  /** Which stream of a batch kills the proxy when they are played one after the other (its own death's signature). */
  async culprit(batch: readonly GenStream[], sig: string): Promise<GenStream | undefined> {
    const out = await this.play(batch, true);
    const f = out.findings[0];
    return out.culprit !== undefined && f !== undefined && signature(f) === sig ? batch[out.culprit] : undefined;
  }

  /** The first candidate that shows `sig` again, shrunk within `budget` replays; undefined if none does. */
  async reproduce(candidates: readonly GenStream[][], sig: string, budget: number, deadline: number): Promise<GenStream[] | undefined> {
    for (const c of candidates) {
      if (c.length === 0 || budget-- <= 0 || Date.now() > deadline) continue;
      if (await this.shows(c, sig)) return this.shrink(c, sig, budget, deadline);
    }
    return undefined;
  }

  private async shrink(streams: GenStream[], sig: string, budget: number, deadline: number): Promise<GenStream[]> {
    let best = streams;
    const more = () => budget-- > 0 && Date.now() < deadline;
    // The same streams with small bodies: a reproduction one can read.
    const small = best.map((s) => generateStream(s.origin.seed, s.origin.index, 64));
    if (best.some((s) => s.bytes.length > 4096) && more() && (await this.shows(small, sig))) best = small;
    // The earlier connection (the cause, when there is one) may not be needed after all.
    if (best.length > 1 && more() && (await this.shows(best.slice(-1), sig))) best = best.slice(-1);
    for (let i = (best[best.length - 1] as GenStream).requests.length - 1; i >= 0; i--) {
      const last = best[best.length - 1] as GenStream;
      if (last.requests.length <= 1 || i >= last.requests.length) continue;
      if (!more()) break;
      const candidate = [...best.slice(0, -1), rebuild(last, last.requests.map((_, k) => k).filter((k) => k !== i))];
      if (await this.shows(candidate, sig)) best = candidate;
    }
    const last = best[best.length - 1] as GenStream;
    if (last.splits.length > last.requests.length && more()) {
      const unsplit = [...best.slice(0, -1), rebuild(last, last.requests.map((_, k) => k), false)];
      if (await this.shows(unsplit, sig)) best = unsplit;
    }
    return best;
  }
}
