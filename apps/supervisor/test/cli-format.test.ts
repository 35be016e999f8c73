import { describe, expect, it } from 'vitest';
import { fakeWorker } from '@handover/control-api/testing';
import type { HandoverEvent, PoolInfo } from '@handover/process-table';
import {
  drainingSummary,
  eventsTable,
  formatDuration,
  formatEventLine,
  formatLogLine,
  formatStatus,
  formatSyncResult,
  formatTimestamp,
  poolsTable,
  readySummary,
  table,
  workerUptime,
  workersTable,
} from '../src/cli/format';

const T0 = Date.parse('2030-01-02T03:04:05.000Z');

const pool: PoolInfo = {
  name: 'web',
  revision: 'v2',
  command: 'node server.js',
  sessionCookie: 'connect.sid',
  instances: 1,
  attached: 1,
  status: 'ok',
  restarts: 0,
  nextRestartAt: null,
  lastError: null,
  sessionsLost: 0,
  sessionProbe: null,
  runningRevisions: ['v2'],
  drift: null,
  configError: null,
  deployFailure: null,
};

describe('formatDuration', () => {
  it.each([
    [-5, '0.0s'],
    [0, '0.0s'],
    [NaN, '0.0s'],
    [450, '0.4s'],
    [1234, '1.2s'],
    [9_999, '9.9s'],
    [10_000, '10s'],
    [59_999, '59s'],
    [60_000, '1m 00s'],
    [185_000, '3m 05s'],
    [3_600_000, '1h 00m'],
    [7_380_000, '2h 03m'],
    [86_400_000 * 3 + 3_600_000 * 4, '3d 04h'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('table', () => {
  it('aligns columns, right-aligns numbers, leaves no trailing spaces', () => {
    const text = table<{ a: string; n: number; c: string }>(
      [
        { header: 'NAME', value: (r) => r.a },
        { header: 'N', align: 'right', value: (r) => String(r.n) },
        { header: 'NOTE', value: (r) => r.c },
      ],
      [
        { a: 'x', n: 5, c: '' },
        { a: 'longer', n: 123, c: 'multi\nline' },
      ],
    );
    expect(text).toBe(['NAME      N  NOTE', 'x         5', 'longer  123  multi line'].join('\n'));
  });
});

describe('status', () => {
  it('prints workers and pools as aligned tables', () => {
    const workers = [
      fakeWorker('web@0', { sessions: 3, inFlight: 1, webSockets: 2 }),
      fakeWorker('web@1', { state: 'detached', attached: false, revision: 'v0', sessions: 12, pid: 123456, port: 10001 }),
      fakeWorker('web@2', { state: 'crashed', attached: false, pid: null, lastError: 'exited with code 1\nstack…' }),
    ];
    const text = formatStatus(workers, [pool, { ...pool, name: 'api', status: 'backoff', restarts: 2, nextRestartAt: new Date(T0 + 3_000).toISOString(), lastError: 'crashed' }], T0 + 65_000);
    expect(text).toBe(
      [
        'WORKER  STATE     ATTACHED  REVISION  SESSIONS  IN-FLIGHT  WS     PID   PORT  UPTIME',
        'web@0   started   yes       v1               3          1   2    4000   9000  1m 05s',
        'web@1   detached  no        v0              12          0   0  123456  10001  1m 05s',
        'web@2   crashed   -         v1               0          0   0       -   9002       -',
        '  web@2: exited with code 1',
        '',
        'POOL  STATUS   REVISION  RUNNING  ATTACHED  RESTARTS  LOST  NOTE',
        'web   ok       v2        v2            1/1         0     0',
        'api   backoff  v2        v2            1/1         2     0  next restart in 0.0s; crashed',
        '',
      ].join('\n'),
    );
  });

  it('shows the app’s own count (APP) beside SESSIONS when a pool has a session probe, and why a probe failed', () => {
    const probed: PoolInfo = { ...pool, sessionProbe: '/stats' };
    const workers = [
      fakeWorker('web@0', { sessions: 3, appSessions: 3 }),
      fakeWorker('web@1', { state: 'detached', attached: false, sessions: 2, appSessions: 0 }),
      fakeWorker('web@2', { sessions: 1, appSessionsError: 'GET /stats on port 9002 answered 500 Internal Server Error' }),
      fakeWorker('web@3', { state: 'stopped', attached: false, pid: null, appSessions: 0 }),
    ];
    const text = workersTable(workers, T0 + 65_000, [probed]);
    expect(text).toBe(
      [
        'WORKER  STATE     ATTACHED  REVISION  SESSIONS  APP  IN-FLIGHT  WS   PID  PORT  UPTIME',
        'web@0   started   yes       v1               3    3          0   0  4000  9000  1m 05s',
        'web@1   detached  no        v1               2    0          0   0  4001  9001  1m 05s',
        'web@2   started   yes       v1               1    ?          0   0  4002  9002  1m 05s',
        'web@3   stopped   -         v1               0    -          0   0     -  9003       -',
        '  web@1: the app says 0 sessions, Handover counts 2: it stops once no request or WebSocket is open',
        '  web@2: session probe failed: GET /stats on port 9002 answered 500 Internal Server Error',
      ].join('\n'),
    );
    // No probe in any pool: no APP column.
    expect(workersTable(workers, T0, [pool]).split('\n')[0]).not.toContain('APP');
    expect(formatStatus(workers, [probed], T0).split('\n')[0]).toContain('SESSIONS  APP');
  });

  it('says when the drain of a detached worker ends at the latest', () => {
    const deadline = new Date(T0 + 86_400_000).toISOString();
    const text = workersTable([fakeWorker('web@1', { state: 'detached', attached: false, sessions: 2, drainDeadline: deadline })], T0 + 60_000);
    expect(text.split('\n').at(-1)).toBe(`  web@1: drain ends by ${formatTimestamp(deadline)} UTC at the latest (in 23h 59m)`);
  });

  it('says so when there is nothing', () => {
    expect(workersTable([], T0)).toBe('no workers');
    expect(poolsTable([], T0)).toBe('no pools');
    expect(eventsTable([])).toBe('no events');
  });

  it('shows uptime only for running workers', () => {
    expect(workerUptime(fakeWorker('web@0'), T0 + 1_500)).toBe('1.5s');
    expect(workerUptime(fakeWorker('web@0', { state: 'stopped' }), T0 + 1_500)).toBe('-');
    expect(workerUptime(fakeWorker('web@0', { startedAt: null }), T0)).toBe('-');
  });

  it('explains an errored pool', () => {
    expect(poolsTable([{ ...pool, status: 'errored', lastError: 'exit 1' }], T0)).toContain(
      'restarts stopped: fix it, then `handover sync`; exit 1',
    );
  });
});

describe('summaries', () => {
  it('describes a drain', () => {
    expect(drainingSummary(fakeWorker('web@0', { sessions: 3 }))).toBe('web@0 detached, draining 3 sessions');
    expect(drainingSummary(fakeWorker('web@0', { sessions: 1, inFlight: 2, webSockets: 1 }))).toBe(
      'web@0 detached, draining 1 session, 2 requests in flight, 1 WebSocket',
    );
    expect(drainingSummary(fakeWorker('web@0'))).toBe('web@0 detached; it has no sessions left and will stop');
  });

  it('describes a ready successor', () => {
    expect(readySummary(fakeWorker('web@2', { revision: 'v2' }))).toBe('web@2 ready in 1.2s (revision v2, port 9002)');
    expect(readySummary(fakeWorker('web@2', { readyAt: null }))).toBe('web@2 ready (revision v1, port 9002)');
  });

  it('describes a sync', () => {
    expect(
      formatSyncResult({
        pools: [
          { pool: 'web', started: [fakeWorker('web@3', { revision: 'v3' })], detached: [], error: null },
          { pool: 'api', started: [], detached: [], error: null },
          { pool: 'jobs', started: [], detached: [], error: 'jobs@1 did not become ready' },
        ],
      }),
    ).toBe(
      [
        'web: started web@3 ready in 1.2s (revision v3, port 9003)',
        'api: up to date, nothing to start',
        'jobs: failed: jobs@1 did not become ready',
        '',
      ].join('\n'),
    );
    expect(formatSyncResult({ pools: [] })).toBe('no pools to sync\n');
  });

  it('formats events and log lines', () => {
    const event: HandoverEvent = {
      id: 7,
      at: '2030-01-02T03:04:05.678Z',
      type: 'worker.detached',
      actor: 'cli:alice',
      pool: 'web',
      worker: 'web@0',
      message: 'web@0 detached',
      data: null,
    };
    expect(formatEventLine(event)).toBe('7  2030-01-02 03:04:05  cli:alice  worker.detached  web@0  web@0 detached');
    expect(eventsTable([event, { ...event, id: 12, worker: null, pool: null, type: 'supervisor.started', actor: 'supervisor' }])).toBe(
      [
        'ID  TIME (UTC)           ACTOR       TYPE                WORKER  MESSAGE',
        ' 7  2030-01-02 03:04:05  cli:alice   worker.detached     web@0   web@0 detached',
        '12  2030-01-02 03:04:05  supervisor  supervisor.started  -       web@0 detached',
      ].join('\n'),
    );
    expect(formatLogLine({ at: '2030-01-02T03:04:05.000Z', stream: 'stderr', text: 'oops' })).toBe('2030-01-02 03:04:05 err | oops');
  });
});
