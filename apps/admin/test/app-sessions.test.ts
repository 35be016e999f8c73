import { describe, expect, it } from 'vitest';
import { fakeWorker } from '@handover/control-api/testing';
import type { PoolInfo } from '@handover/process-table';
import { appSessionsView } from '../src/lib/workers';

// Cast: PoolInfo grows (#10 added drift and deploy state); these tests need only these fields.
const pool = (sessionProbe: string | null): PoolInfo =>
  ({
    name: 'web',
    revision: 'v2',
    command: 'node server.js',
    sessionCookie: 'JSESSIONID',
    instances: 1,
    attached: 1,
    status: 'ok',
    restarts: 0,
    nextRestartAt: null,
    lastError: null,
    sessionsLost: 0,
    sessionProbe,
  }) as PoolInfo;

describe('the app’s own session count beside Handover’s', () => {
  it('shows nothing without a session probe, or for a worker that is not running', () => {
    expect(appSessionsView(fakeWorker('web@0', { appSessions: 3 }), pool(null))).toBeNull();
    expect(appSessionsView(fakeWorker('web@0', { appSessions: 3 }), undefined)).toBeNull();
    expect(appSessionsView(fakeWorker('web@0', { state: 'stopped', appSessions: 0 }), pool('/stats'))).toBeNull();
  });

  it('says "app says N", highlighted when it differs from Handover’s count', () => {
    expect(appSessionsView(fakeWorker('web@0', { sessions: 2, appSessions: 2 }), pool('/stats'))).toEqual({
      text: 'app says 2',
      tone: 'agrees',
      title: 'GET /stats: the app counts 2 too',
    });
    expect(appSessionsView(fakeWorker('web@0', { sessions: 5, appSessions: 3 }), pool('/stats'))).toMatchObject({ text: 'app says 3', tone: 'differs', title: 'GET /stats: the app counts 3, Handover 5' });
    expect(appSessionsView(fakeWorker('web@1', { state: 'detached', attached: false, sessions: 1, appSessions: 0 }), pool('/stats'))).toMatchObject({
      tone: 'differs',
      title: 'GET /stats: the app counts 0, Handover 1; it stops once no request or WebSocket is open',
    });
  });

  it('shows "?" with the probe’s error when it failed, or before its first answer', () => {
    const failed = fakeWorker('web@0', { appSessionsError: 'GET /stats on port 9000 answered 500 Internal Server Error' });
    expect(appSessionsView(failed, pool('/stats'))).toEqual({ text: 'app: ?', tone: 'unknown', title: 'GET /stats on port 9000 answered 500 Internal Server Error' });
    expect(appSessionsView(fakeWorker('web@0'), pool('/stats'))).toMatchObject({ text: 'app: ?', title: 'no answer yet to GET /stats' });
  });
});
