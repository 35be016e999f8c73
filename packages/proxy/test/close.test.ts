import http, { type ServerResponse } from 'node:http';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { answerWith, disposer, get, makeRoute, startProxy, startUpstream, waitFor } from './helpers';

describe('close(graceMs)', () => {
  it('stops accepting, lets an in-flight request finish, then resolves', async () => {
    const pending: ServerResponse[] = [];
    await using w = await startUpstream('web@0', (_req, res) => pending.push(res));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { proxy, port } = testProxy;
    const inflight = get(port, '/slow');
    await waitFor(() => pending.length === 1, 'the request at the worker');
    let closed = false;
    const closePromise = proxy.close(5000);
    const closing = closePromise.then(() => (closed = true));
    await expect(get(port, '/new')).rejects.toThrow(/ECONNREFUSED/);
    expect(closed).toBe(false);
    pending[0]?.end('finished');
    const reply = await inflight;
    expect(reply.body).toBe('finished');
    expect(reply.headers.connection).toBe('close');
    await closing;
    expect(w.upstream.lease.inFlight).toBe(0);
    expect(proxy.close()).toBe(closePromise); // idempotent
  });

  it('destroys what is left after the grace period', async () => {
    await using w = await startUpstream('web@0', (_req, res) => res.write('never ends'));
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { proxy, port } = testProxy;
    const outcome = new Promise<string>((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve('end'));
          res.on('error', () => resolve('error'));
          res.on('aborted', () => resolve('aborted'));
        })
        .on('error', () => resolve('error'));
    });
    await waitFor(() => w.seen.length === 1, 'the request at the worker');
    const started = Date.now();
    await proxy.close(100);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(await outcome).not.toBe('end');
    await waitFor(() => w.upstream.lease.inFlight === 0, 'inFlight 0');
  });

  it('closes idle keep-alive connections at once, while a busy one still has its grace', async () => {
    const pending: ServerResponse[] = [];
    await using w = await startUpstream('web@0', (req, res) => {
      if (req.url === '/slow') pending.push(res);
      else res.end('web@0');
    });
    await using testProxy = await startProxy(makeRoute(w.upstream));
    const { proxy, port } = testProxy;
    const agent = new http.Agent({ keepAlive: true });
    await using _agent = disposer(() => agent.destroy());
    const idle = await new Promise<net.Socket>((resolve) =>
      http.get({ host: '127.0.0.1', port, agent }, (res) => {
        const s = res.socket as net.Socket;
        res.resume().on('end', () => resolve(s));
      }),
    );
    let ended = false;
    // 'close', not 'end': from Node 22 on, the agent destroys a free socket on FIN before 'end' reaches us.
    idle.on('close', () => (ended = true));
    const slow = get(port, '/slow');
    await waitFor(() => pending.length === 1, 'the slow request at the worker');
    let closed = false;
    const closing = proxy.close(60_000).then(() => (closed = true));
    // The idle connection is ended by the proxy while the busy one is still within its grace.
    await waitFor(() => ended, 'the proxy ending the idle client connection');
    expect(closed).toBe(false);
    pending[0]?.end('slow done');
    expect((await slow).body).toBe('slow done');
    await closing;
    expect(closed).toBe(true);
  });
});
