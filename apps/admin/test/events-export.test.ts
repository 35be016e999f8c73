import { describe, expect, it } from 'vitest';
import type { ControlConnection } from '../src/server/control-connection';
import { createEventsExport } from '../src/server/events-export';

/** The console's /api/events.ndjson (#10, item 9): the supervisor's export with the token added here. */

const connection: ControlConnection = {
  target: async () => ({ url: 'http://127.0.0.1:8090/', token: 'secret-token' }),
  forgetToken: () => {},
  describe: async () => 'http://127.0.0.1:8090/',
};

function exporter(session: boolean) {
  const calls: Array<{ url: string; authorization: string | null }> = [];
  const handler = createEventsExport({
    connection,
    getSession: async () => (session ? { user: 'alice', expiresAt: Date.now() + 60_000 } : null),
    trustedProxyHops: 0,
    fetch: async (input, init) => {
      calls.push({ url: String(input), authorization: new Headers(init?.headers).get('authorization') });
      return new Response('{"id":1}\n{"id":2}\n', { status: 200, headers: { 'content-type': 'application/x-ndjson' } });
    },
  });
  return { handler, calls };
}

describe('the event export', () => {
  it('passes the filters on with the token and streams the lines back as a download', async () => {
    const { handler, calls } = exporter(true);
    const answer = await handler(new Request('http://console.test/api/events.ndjson?worker=web%400&type=worker.&actor='));
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/x-ndjson');
    expect(answer.headers.get('content-disposition')).toContain('attachment');
    expect(await answer.text()).toBe('{"id":1}\n{"id":2}\n');
    expect(calls).toEqual([{ url: 'http://127.0.0.1:8090/events.ndjson?worker=web%400&type=worker.', authorization: 'Bearer secret-token' }]);
  });

  it('needs a login, refuses other sites and unknown parameters', async () => {
    expect((await exporter(false).handler(new Request('http://console.test/api/events.ndjson'))).status).toBe(401);
    const crossSite = new Request('http://console.test/api/events.ndjson', { headers: { 'sec-fetch-site': 'cross-site' } });
    expect((await exporter(true).handler(crossSite)).status).toBe(403);
    const { handler, calls } = exporter(true);
    expect((await handler(new Request('http://console.test/api/events.ndjson?token=x'))).status).toBe(400);
    expect(calls).toHaveLength(0);
  });
});
