/**
 * Pure formatting for the `handover` CLI: tables, durations, one-line summaries. No I/O, no
 * clock: callers pass `now`.
 */
import type { DrainInfo, HandoverEvent, LogLine, PoolInfo, SyncPlan, SyncResult, WorkerInfo } from '@handover/process-table';

export type Align = 'left' | 'right';

export interface Column<Row> {
  header: string;
  align?: Align;
  value: (row: Row) => string;
}

/**
 * An aligned plain-text table: a header line, then one line per row, columns separated by two
 * spaces; the last column is not padded, and no line has trailing spaces.
 */
export function table<Row>(columns: Array<Column<Row>>, rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((c) => c.value(row).replace(/\s+/g, ' ')));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => {
        const last = i === values.length - 1;
        if (columns[i]!.align === 'right') return v.padStart(widths[i]!);
        return last ? v : v.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

/** `0.4s`, `1.2s`, `42s`, `3m 05s`, `2h 03m`, `3d 04h`. Negative counts as 0. */
export function formatDuration(ms: number): string {
  const safe = Number.isFinite(ms) && ms > 0 ? ms : 0;
  if (safe < 10_000) return `${(Math.floor(safe / 100) / 10).toFixed(1)}s`;
  const seconds = Math.floor(safe / 1000);
  if (seconds < 60) return `${seconds}s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${pad(seconds % 60)}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${pad(minutes % 60)}m`;
  return `${Math.floor(hours / 24)}d ${pad(hours % 24)}h`;
}

function ms(iso: string | null): number | null {
  if (iso === null) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** How long a live worker has been up; `-` for one that is not running. */
export function workerUptime(worker: WorkerInfo, now: number): string {
  if (['stopped', 'crashed', 'failed'].includes(worker.state)) return '-';
  const since = ms(worker.startedAt);
  return since === null ? '-' : formatDuration(now - since);
}

/** From spawn to ready (`1.2s`), or null when unknown. */
export function startupTime(worker: WorkerInfo): string | null {
  const started = ms(worker.startedAt);
  const ready = ms(worker.readyAt);
  return started === null || ready === null ? null : formatDuration(ready - started);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/** The app's own count (the pool's session probe) for the APP column: `?` when the probe failed or has not answered yet. */
function appSessions(worker: WorkerInfo): string {
  if (worker.state !== 'started' && worker.state !== 'detached') return '-';
  return worker.appSessions == null ? '?' : String(worker.appSessions);
}

/**
 * The workers table; `pools` (from `pools.list`) tells which pools have a session probe: then an
 * APP column shows the app's own count beside Handover's SESSIONS.
 */
export function workersTable(workers: readonly WorkerInfo[], now: number, pools: readonly PoolInfo[] = []): string {
  if (workers.length === 0) return 'no workers';
  const num = (n: number) => String(n);
  const probed = new Set(pools.filter((p) => p.sessionProbe != null).map((p) => p.name));
  const main = table<WorkerInfo>(
    [
      { header: 'WORKER', value: (w) => w.id },
      { header: 'STATE', value: (w) => w.state },
      // Whether it takes new sessions: the one a new visitor lands on.
      { header: 'ATTACHED', value: (w) => (w.attached ? 'yes' : isEnded(w) ? '-' : 'no') },
      { header: 'REVISION', value: (w) => w.revision },
      { header: 'SESSIONS', align: 'right', value: (w) => num(w.sessions) },
      ...(probed.size > 0 ? [{ header: 'APP', align: 'right' as const, value: (w: WorkerInfo) => (probed.has(w.pool) ? appSessions(w) : '-') }] : []),
      { header: 'IN-FLIGHT', align: 'right', value: (w) => num(w.inFlight) },
      { header: 'WS', align: 'right', value: (w) => num(w.webSockets) },
      { header: 'PID', align: 'right', value: (w) => (w.pid === null ? '-' : String(w.pid)) },
      { header: 'PORT', align: 'right', value: (w) => String(w.port) },
      { header: 'UPTIME', align: 'right', value: (w) => workerUptime(w, now) },
    ],
    workers,
  );
  const notes: string[] = [];
  for (const w of workers) {
    if (w.lastError !== null && w.lastError !== '') notes.push(...errorNote(w.id, w.lastError));
    const running = w.state === 'started' || w.state === 'detached';
    if (running && probed.has(w.pool) && w.appSessionsError) notes.push(`  ${w.id}: session probe failed: ${firstLine(w.appSessionsError)}`);
    if (w.state === 'detached' && probed.has(w.pool) && w.appSessions === 0 && w.sessions > 0) {
      notes.push(`  ${w.id}: the app says 0 sessions, Handover counts ${w.sessions}: it stops once no request or WebSocket is open`);
    }
    const deadline = ms(w.drainDeadline ?? null);
    if (w.state === 'detached' && deadline !== null) {
      notes.push(`  ${w.id}: drain ends by ${formatTimestamp(w.drainDeadline!)} UTC at the latest (in ${formatDuration(deadline - now)})`);
    }
  }
  return notes.length === 0 ? main : `${main}\n${notes.join('\n')}`;
}

/** Output lines shown under a failed or crashed worker's error. */
const OUTPUT_LINES = 5;

function isEnded(worker: WorkerInfo): boolean {
  return worker.state === 'stopped' || worker.state === 'crashed' || worker.state === 'failed';
}

/**
 * A worker's error as notes: its first line, then (when it carries the worker's last output,
 * `… Its last output:\n<lines>`) the last few of those lines, indented, rather than a dangling
 * "Its last output:" with nothing after it.
 */
function errorNote(id: string, error: string): string[] {
  const [head = '', ...rest] = error.split('\n');
  const output = rest.filter((line) => line.trim() !== '');
  const intro = /\s*Its last output:\s*$/;
  if (!intro.test(head)) return [`  ${id}: ${clip(head)}`];
  const shown = output.slice(-OUTPUT_LINES);
  if (shown.length === 0) return [`  ${id}: ${clip(`${head.replace(intro, '')} It printed nothing.`)}`];
  const more = output.length > shown.length ? ` (last ${shown.length} of ${output.length} lines; \`handover logs ${id}\` for more)` : '';
  return [`  ${id}: ${clip(head.replace(intro, ''))} Its last output${more}:`, ...shown.map((line) => `    | ${clip(line)}`)];
}

/** A multi-line message (a ConfigError: a headline, then one indented line per problem) on one line. */
function oneLine(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');
}

function clip(line: string): string {
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/**
 * One word for a pool's state, first match wins: the crash policy's `errored`/`backoff`, then
 * `deploy failed`, `config rejected`, `out of sync` (drift), else `ok`.
 */
export function poolBadge(pool: PoolInfo): string {
  if (pool.status !== 'ok') return pool.status;
  if (pool.deployFailure) return 'deploy failed';
  if (pool.configError) return 'config rejected';
  if (pool.drift) return 'out of sync';
  return 'ok';
}

export function poolsTable(pools: readonly PoolInfo[], now: number): string {
  if (pools.length === 0) return 'no pools';
  return table<PoolInfo>(
    [
      { header: 'POOL', value: (p) => p.name },
      { header: 'STATUS', value: (p) => poolBadge(p) },
      { header: 'REVISION', value: (p) => p.revision },
      { header: 'RUNNING', value: (p) => (p.runningRevisions === undefined ? '?' : p.runningRevisions.join(',') || '-') },
      { header: 'ATTACHED', align: 'right', value: (p) => `${p.attached}/${p.instances}` },
      { header: 'RESTARTS', align: 'right', value: (p) => String(p.restarts) },
      { header: 'LOST', align: 'right', value: (p) => String(p.sessionsLost) },
      { header: 'NOTE', value: (p) => poolNote(p, now) },
    ],
    pools,
  );
}

function poolNote(pool: PoolInfo, now: number): string {
  const parts: string[] = [];
  const next = ms(pool.nextRestartAt);
  if (next !== null) parts.push(`next restart in ${formatDuration(next - now)}`);
  if (pool.status === 'errored') parts.push('restarts stopped: fix it, then `handover sync`');
  if (pool.lastError) parts.push(firstLine(pool.lastError));
  return parts.join('; ');
}

/**
 * What the pools table cannot say in a cell: the file differs from what runs (drift), the last
 * deploy failed, the configuration file does not parse (said once).
 */
export function poolNotes(pools: readonly PoolInfo[]): string[] {
  const notes: string[] = [];
  for (const p of pools) {
    if (p.deployFailure) {
      const f = p.deployFailure;
      notes.push(
        `  ${p.name}: deploy failed at ${formatTimestamp(f.at)} UTC: ${clip(f.reason.split('\n', 1)[0]!.replace(/\s*Its last output:\s*$/, ''))} ` +
          `(\`handover logs ${f.worker}\`); the attached workers keep serving`,
      );
    }
    if (p.drift) {
      notes.push(`  ${p.name}: the configuration differs from what runs: ${p.drift.changes.join('; ')}`);
      notes.push(`  ${p.name}: \`handover sync ${p.name} --dry-run\` shows what a sync would do; \`handover sync ${p.name}\` does it`);
    }
  }
  const configError = pools.find((p) => p.configError)?.configError;
  if (configError) {
    notes.push(`  configuration rejected: ${clip(oneLine(configError))}`);
    notes.push('  the supervisor keeps running on the last good configuration; a sync or detach --sync is refused until the file is fixed');
  }
  return notes;
}

/** The whole `status` output. */
export function formatStatus(workers: readonly WorkerInfo[], pools: readonly PoolInfo[], now: number): string {
  const notes = poolNotes(pools);
  return `${workersTable(workers, now, pools)}\n\n${poolsTable(pools, now)}\n${notes.length === 0 ? '' : `${notes.join('\n')}\n`}`;
}

/** `handover drain <worker>`: what a worker still holds, its deadline and expected end. */
export function formatDrain(info: DrainInfo, now: number): string {
  const lines: string[] = [];
  const held = `${plural(info.sessions, 'session')}, ${plural(info.inFlight, 'request')} and ${plural(info.webSockets, 'WebSocket')}`;
  if (info.state !== 'detached') {
    lines.push(`${info.worker} is ${info.state}, not draining; it holds ${held}`);
  } else {
    const since = ms(info.detachedAt);
    lines.push(`${info.worker} detached${since === null ? '' : ` ${formatDuration(now - since)} ago`}; ${held} left`);
    const deadline = ms(info.deadline);
    lines.push(
      deadline === null
        ? 'deadline: none (drain.maxSeconds is null): it drains as long as sessions last'
        : `deadline: ${formatTimestamp(info.deadline!)} UTC (in ${formatDuration(deadline - now)}; drain.maxSeconds ${info.maxSeconds})`,
    );
    const eta = ms(info.eta);
    const why = {
      empty: 'nothing is left: it stops now',
      sessions: 'when the last session expires, if its user does nothing more',
      deadline: info.webSockets > 0 ? 'an open WebSocket only ends by its user or the deadline' : 'the deadline comes before the last session expires',
      unknown: 'an open WebSocket only ends by its user, and there is no deadline',
    }[info.etaBasis];
    lines.push(eta === null ? `expected end: unknown (${why})` : `expected end: ${formatTimestamp(info.eta!)} UTC (in ${formatDuration(eta - now)}: ${why})`);
  }
  if (info.remaining.length > 0) {
    lines.push(
      table(
        [
          { header: 'SESSION', value: (s: DrainInfo['remaining'][number]) => s.id },
          { header: 'LAST SEEN (UTC)', value: (s) => formatTimestamp(s.lastSeenAt) },
          { header: 'EXPIRES (UTC)', value: (s) => formatTimestamp(s.expiresAt) },
          { header: 'OPEN', align: 'right', value: (s) => String(s.open) },
        ],
        info.remaining,
      ),
    );
    if (info.truncated) lines.push(`… and ${plural(info.sessions - info.remaining.length, 'more session')} (-n N lists more)`);
  }
  if (info.state === 'detached') lines.push(`\`handover drain ${info.worker} --stop-now\` stops it now; what it still holds is lost`);
  return `${lines.join('\n')}\n`;
}

/** `handover sync --dry-run`: what a sync would do now. */
export function formatSyncPlan(plan: SyncPlan): string {
  if (plan.configError !== null) {
    return `a sync would change nothing: the configuration does not parse:\n  ${plan.configError.split('\n').join('\n  ')}\n`;
  }
  const lines: string[] = [];
  for (const p of plan.pools) {
    if (p.busy !== null) lines.push(`${p.pool}: skipped: ${p.busy} is in progress`);
    else if (p.upToDate) lines.push(`${p.pool}: up to date (revision ${p.revision}), nothing to start`);
    else {
      const what = [`start ${plural(p.start, 'worker')} on revision ${p.revision}`];
      if (p.detach.length > 0) what.push(`detach ${p.detach.join(', ')} once ${p.detach.length === 1 ? 'its successor is ready (it drains)' : 'their successors are ready (they drain)'}`);
      lines.push(`${p.pool}: would ${what.join(', then ')}`);
    }
    if (p.liftsCrashLoop) lines.push(`${p.pool}: and lift the crash loop stop`);
    for (const change of p.changes) lines.push(`  ${change}`);
  }
  for (const note of plan.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}

/** `2030-01-02 03:04:05` in UTC. */
export function formatTimestamp(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

export function eventsTable(events: readonly HandoverEvent[]): string {
  if (events.length === 0) return 'no events';
  return table<HandoverEvent>(
    [
      { header: 'ID', align: 'right', value: (e) => String(e.id) },
      { header: 'TIME (UTC)', value: (e) => formatTimestamp(e.at) },
      { header: 'ACTOR', value: (e) => e.actor },
      { header: 'TYPE', value: (e) => e.type },
      { header: 'WORKER', value: (e) => e.worker ?? e.pool ?? '-' },
      { header: 'MESSAGE', value: (e) => firstLine(e.message) },
    ],
    events,
  );
}

/** One event as a line, for `events --follow`. */
export function formatEventLine(event: HandoverEvent): string {
  const where = event.worker ?? event.pool ?? '-';
  return `${event.id}  ${formatTimestamp(event.at)}  ${event.actor}  ${event.type}  ${where}  ${firstLine(event.message)}`;
}

export function formatLogLine(line: LogLine): string {
  return `${formatTimestamp(line.at)} ${line.stream === 'stderr' ? 'err' : 'out'} | ${line.text}`;
}

/** `web@0 detached, draining 3 sessions, 1 request in flight`. */
export function drainingSummary(worker: WorkerInfo): string {
  const parts = [plural(worker.sessions, 'session')];
  if (worker.inFlight > 0) parts.push(`${plural(worker.inFlight, 'request')} in flight`);
  if (worker.webSockets > 0) parts.push(plural(worker.webSockets, 'WebSocket'));
  const nothing = worker.sessions === 0 && worker.inFlight === 0 && worker.webSockets === 0;
  return nothing
    ? `${worker.id} detached; it has no sessions left and will stop`
    : `${worker.id} detached, draining ${parts.join(', ')}`;
}

/** `web@1 ready in 1.2s (revision v2, port 9001)`. */
export function readySummary(worker: WorkerInfo): string {
  const took = startupTime(worker);
  return `${worker.id} ready${took === null ? '' : ` in ${took}`} (revision ${worker.revision}, port ${worker.port})`;
}

export function formatSyncResult(result: SyncResult): string {
  if (result.pools.length === 0) return 'no pools to sync\n';
  const lines: string[] = [];
  for (const pool of result.pools) {
    if (pool.error !== null) lines.push(`${pool.pool}: failed: ${pool.error}`);
    else if (pool.started.length === 0) lines.push(`${pool.pool}: up to date, nothing to start`);
    else for (const w of pool.started) lines.push(`${pool.pool}: started ${readySummary(w)}`);
    for (const w of pool.detached ?? []) lines.push(`${pool.pool}: ${drainingSummary(w)}`);
  }
  return `${lines.join('\n')}\n`;
}
