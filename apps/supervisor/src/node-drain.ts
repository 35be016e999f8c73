/**
 * Node drain, for a fleet behind HAProxy (docs/many-machines.md): the operator drains the whole
 * node, `/node-health` answers 404, HAProxy's `disable-on-404` sends it no new clients while its
 * sticky ones keep coming, and once the node holds nothing more it says so (`node.drained`) so it
 * can be taken down, upgraded and put back (`ready`). The drain is kept in the state store: a
 * supervisor restarted by the keeper in the middle of maintenance does not start taking clients.
 */
import type { NodeStatus } from '@handover/process-table';
import { isAlive } from '@handover/process-table';
import type { NewEvent } from './event-log';
import type { Runtime } from './runtime';

/** How often a draining node checks whether it has drained (sessions end by logout or idle expiry). */
const CHECK_EVERY_MS = 1000;

export class NodeDrain {
  private since: Date | null = null;
  private by: string | null = null;
  private drainedAnnounced = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly rt: Runtime) {}

  /** Takes the drain a previous supervisor recorded (silently: it was announced then). */
  restore(): void {
    const stored = this.rt.store?.readNodeDrain() ?? null;
    if (stored === null) return;
    this.since = new Date(stored.since);
    this.by = stored.by;
    this.watch();
  }

  status(): NodeStatus {
    let sessions = 0;
    let inFlight = 0;
    let webSockets = 0;
    for (const worker of this.rt.table.rows()) {
      if (!isAlive(worker.state)) continue;
      sessions += worker.sessions;
      inFlight += worker.inFlight;
      webSockets += worker.webSockets;
    }
    const pools = [...this.rt.pools.values()];
    const allPoolsErrored = pools.length > 0 && pools.every((pool) => pool.status === 'errored');
    const draining = this.since !== null;
    return {
      accepting: !draining && !allPoolsErrored,
      draining,
      drainingSince: this.since?.toISOString() ?? null,
      drainedBy: this.by,
      allPoolsErrored,
      sessions,
      inFlight,
      webSockets,
      drained: draining && sessions === 0 && inFlight === 0 && webSockets === 0,
    };
  }

  drain(actor: string): NodeStatus {
    if (this.since === null) {
      this.since = new Date();
      this.by = actor;
      this.drainedAnnounced = false;
      this.rt.store?.saveNodeDrain({ since: this.since.toISOString(), by: actor });
      const left = this.status();
      this.rt.record(nodeEvent('node.draining', actor, `node draining (by ${actor}): no new clients from the front; ${holding(left)}`, left));
      this.watch();
      this.check();
    }
    return this.status();
  }

  ready(actor: string): NodeStatus {
    if (this.since !== null) {
      this.since = null;
      this.by = null;
      this.stopWatching();
      this.rt.store?.saveNodeDrain(null);
      this.rt.record(nodeEvent('node.ready', actor, `node ready (by ${actor}): takes new clients again`, this.status()));
    }
    return this.status();
  }

  stop(): void {
    this.stopWatching();
  }

  private watch(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
    this.timer.unref();
  }

  private stopWatching(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Announces the drain once, when nothing is left (a session that comes back re-arms it). */
  private check(): void {
    const now = this.status();
    if (!now.drained) {
      this.drainedAnnounced = false;
      return;
    }
    if (this.drainedAnnounced) return;
    this.drainedAnnounced = true;
    const minutes = this.since === null ? 0 : (Date.now() - this.since.getTime()) / 60_000;
    this.rt.record(nodeEvent('node.drained', 'supervisor', `node drained after ${minutes.toFixed(1)} min: no session, request or WebSocket left; it can be taken down`, now));
  }
}

/** What `/node-health` answers HAProxy: 200 takes new clients; 404 (drained or every pool errored) keeps only its own. */
export function nodeHealth(status: NodeStatus): { status: 200 | 404; body: NodeStatus & { state: string } } {
  const state = status.draining ? (status.drained ? 'drained' : 'draining') : status.allPoolsErrored ? 'errored' : 'ready';
  return { status: status.accepting ? 200 : 404, body: { state, ...status } };
}

function holding(status: NodeStatus): string {
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  return `it holds ${plural(status.sessions, 'session')}, ${plural(status.inFlight, 'request')} and ${plural(status.webSockets, 'WebSocket')}`;
}

function nodeEvent(type: 'node.draining' | 'node.drained' | 'node.ready', actor: string, message: string, status: NodeStatus): NewEvent {
  return {
    type,
    actor,
    message,
    data: { sessions: status.sessions, inFlight: status.inFlight, webSockets: status.webSockets },
  };
}
