/**
 * `proxy` in the configuration reaches the proxy: trusted forwarding headers, limits, and a fault
 * its guard catches becomes a `proxy.fault` event (the console and `handover events` show it).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { setFaultProbe } from '../../../packages/proxy/src/engine/guard';
import { FIXTURES, TestSupervisor, waitFor } from './harness';

const echo = { command: `node ${JSON.stringify(join(FIXTURES, 'echo-headers-app.mjs'))}`, sessionCookie: 'JSESSIONID' };
const forged = { Forwarded: 'for=6.6.6.6;proto=https', 'X-Forwarded-For': '6.6.6.6', 'X-Real-IP': '6.6.6.6' };

async function seen(harness: TestSupervisor, headers: Record<string, string>): Promise<Record<string, string>> {
  const res = await fetch(`${harness.proxyUrl}/`, { headers });
  const body = (await res.json()) as { headers: string[] };
  const out: Record<string, string> = {};
  for (let i = 0; i < body.headers.length; i += 2) out[(body.headers[i] as string).toLowerCase()] = body.headers[i + 1] as string;
  return out;
}

describe('proxy settings from the configuration', () => {
  afterEach(() => setFaultProbe(undefined));

  it('by default a client’s forwarding headers are replaced', async () => {
    await using harness = await TestSupervisor.launch(echo);
    const h = await seen(harness, forged);
    expect(h.forwarded).toBeUndefined();
    expect(h['x-real-ip']).toBeUndefined();
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('proxy.trustForwarded keeps them (a trusted proxy in front)', async () => {
    await using harness = await TestSupervisor.launch(echo, { proxy: { port: 18080, trustForwarded: true } });
    const h = await seen(harness, forged);
    expect(h.forwarded).toBe(forged.Forwarded);
    expect(h['x-forwarded-for']).toBe('6.6.6.6, 127.0.0.1');
  });

  it('proxy.limits reach the proxy (maxHeaderCount → 431)', async () => {
    await using harness = await TestSupervisor.launch(echo, { proxy: { port: 18080, limits: { maxHeaderCount: 12 } } });
    const many: Record<string, string> = {};
    for (let i = 0; i < 12; i++) many[`x-h${i}`] = String(i);
    expect((await fetch(`${harness.proxyUrl}/`, { headers: many })).status).toBe(431);
    expect((await fetch(`${harness.proxyUrl}/`)).status).toBe(200);
  });

  it('a fault caught by the proxy’s guard is an event, and the proxy goes on', async () => {
    await using harness = await TestSupervisor.launch(echo);
    let thrown = 0;
    setFaultProbe((entry) => {
      if (entry === 'worker.head' && thrown++ === 0) throw new Error('injected bug');
    });
    expect((await fetch(`${harness.proxyUrl}/`)).status).toBe(502);
    const event = await waitFor(() => harness.events.find((e) => e.type === 'proxy.fault'), 5_000, 'the proxy.fault event');
    expect(event.pool).toBe('web');
    expect(event.message).toContain('injected bug');
    expect((await fetch(`${harness.proxyUrl}/`)).status).toBe(200);
  });
});
