/**
 * Stopping Handover with WebSockets open: the workers get SIGTERM while their tunnels are still
 * open, so a client sees the app's own close frame (1001 "going away" from the fixture), not a
 * cut connection (1006). The proxy closes whatever is left once the workers are gone.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FIXTURES, TestSupervisor } from './harness';

function openSocket(url: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const closed = new Promise<number>((done) => ws.once('close', (code) => done(code)));
    ws.once('open', () => resolve({ ws, closed }));
    ws.once('error', reject);
  });
}

describe('stopping with WebSockets open', () => {
  it('clients get the app’s close frame (1001), not a cut connection', async () => {
    await using harness = await TestSupervisor.launch({ command: `node ${JSON.stringify(join(FIXTURES, 'ws-app.mjs'))}`, sessionCookie: 'sid' });
    const url = harness.proxyUrl.replace(/^http/, 'ws');
    const sockets = await Promise.all([openSocket(url), openSocket(url)]);
    sockets[0]!.ws.send('hello');
    expect(await new Promise<string>((resolve) => sockets[0]!.ws.once('message', (data) => resolve(data.toString())))).toBe('web@0: hello');
    await harness.running!.stop(2_000);
    expect(await Promise.all(sockets.map((s) => s.closed))).toEqual([1001, 1001]);
  });
});
