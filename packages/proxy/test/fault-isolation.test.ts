/**
 * Fault isolation: a bug met inside any entry from I/O into the engine costs that connection
 * only. A probe throws once inside each named entry point; the process goes on (an escaped
 * exception would fail this file), the fault is counted and reported, in-flight counts come back
 * to 0, and the next request is answered.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type EntryPoint, setFaultProbe } from '../src/engine/guard';
import { get, makeRoute, startProxy, startUpstream, waitFor } from './helpers';

afterEach(() => setFaultProbe(undefined));

const MB = 1024 * 1024;

/** Sends raw bytes and resolves when the proxy closes the socket or `done` holds (never hangs: the test's deadline). */
function exchange(port: number, write: (socket: net.Socket) => void, done: (text: string) => boolean = () => false): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const socket = net.connect(port, '127.0.0.1', () => write(socket));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (done(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(text));
  });
}

type Scenario = (port: number) => Promise<unknown>;

/** A chunked upload answered with a chunked response on a kept-alive connection, then closed. */
const upload: Scenario = (port) =>
  exchange(
    port,
    (s) => s.write('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'),
    (t) => t.endsWith('0\r\n\r\n'),
  );

/** The client half-closes right after its request. */
const halfClose: Scenario = (port) => exchange(port, (s) => s.end('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'));

/** A response framed by the worker closing its connection. */
const closeFramed: Scenario = (port) => exchange(port, (s) => s.write('GET /close-framed HTTP/1.1\r\nHost: x\r\n\r\n'), (t) => t.includes('until close'));

/** The worker resets the connection after reading the head. */
const workerReset: Scenario = (port) => exchange(port, (s) => s.write('GET /reset HTTP/1.1\r\nHost: x\r\n\r\n'));

/** A big response to a client that reads only once the proxy had to wait for it. */
function bigDownload(stalled: () => boolean): Scenario {
  return (port) =>
    new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      socket.pause();
      socket.on('error', () => {});
      socket.on('close', resolve);
      waitFor(stalled, 'the proxy waiting for the client to read', 5000).then(
        () => socket.resume(),
        () => socket.destroy(),
      );
    });
}

/** A big upload to a worker that reads only once the proxy had to wait for it. */
function bigUpload(worker: { uploadPaused: http.IncomingMessage | undefined }): Scenario {
  return (port) =>
    new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(`PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${16 * MB}\r\nConnection: close\r\n\r\n`);
        socket.write(Buffer.alloc(16 * MB, 1));
      });
      socket.on('data', () => {});
      socket.on('error', () => {});
      socket.on('close', resolve);
      // The client's own buffer backs up once the proxy stopped reading it: the worker then reads.
      waitFor(() => socket.writableLength > 0 && worker.uploadPaused !== undefined, 'the upload backed up', 5000).then(
        () => worker.uploadPaused?.resume(),
        () => socket.destroy(),
      );
    });
}

/** An idle keep-alive connection while the sweep runs. */
const idleDuringSweep: Scenario = (port) =>
  exchange(port, (s) => s.write('GET /echo HTTP/1.1\r\nHost: x\r\n\r\n'), (t) => t.includes('echo') && false);

describe('a throw inside any engine entry point costs one connection, never the process', () => {
  const worker = { uploadPaused: undefined as http.IncomingMessage | undefined };
  let stalled = () => false;
  const scenarios: Record<EntryPoint, Scenario> = {
    'client.connection': upload,
    'client.head': upload,
    'client.body': upload,
    'client.end': upload,
    'client.parsed': upload,
    'client.drain': bigDownload(() => stalled()),
    'client.eof': halfClose,
    'client.close': upload,
    'worker.connect': upload,
    'worker.head': upload,
    'worker.body': upload,
    'worker.end': upload,
    'worker.parsed': upload,
    'worker.drain': bigUpload(worker),
    'worker.eof': closeFramed,
    'worker.close': workerReset,
    sweep: idleDuringSweep,
  };

  for (const [entry, scenario] of Object.entries(scenarios) as Array<[EntryPoint, Scenario]>) {
    it(`${entry}`, async () => {
      await using w = await startUpstream('web@0', (req, res) => {
        if (req.url === '/reset') return req.socket.destroy();
        // Raw: node:http would chunk it even with Connection: close.
        if (req.url === '/close-framed') return void req.socket.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close');
        if (req.url === '/big') {
          res.writeHead(200, { 'Content-Length': String(32 * MB) });
          const chunk = Buffer.alloc(MB, 2);
          let sent = 0;
          const more = () => {
            while (sent < 32) {
              sent++;
              if (!res.write(chunk)) return void res.once('drain', more);
            }
            res.end();
          };
          return more();
        }
        if (req.url === '/upload') {
          req.pause();
          worker.uploadPaused = req;
          req.on('end', () => res.end('stored'));
          return;
        }
        req.resume();
        req.on('end', () => {
          res.setHeader('Transfer-Encoding', 'chunked');
          res.end('echo');
        });
      });
      worker.uploadPaused = undefined;
      const errors: unknown[] = [];
      await using testProxy = await startProxy(makeRoute(w.upstream), { onError: (e) => errors.push(e), connectionsCheckingIntervalMs: 20 });
      const { proxy, port } = testProxy;
      stalled = () => proxy.stats().stalledClients > 0;
      let thrown = 0;
      setFaultProbe((at) => {
        if (at === entry && thrown === 0) {
          thrown++;
          throw new Error(`injected fault in ${at}`);
        }
      });
      await scenario(port);
      await waitFor(() => thrown === 1, `the probe ran in ${entry}`, 5000);
      setFaultProbe(undefined);
      await waitFor(() => proxy.stats().faults === 1, 'the fault counted');
      expect(errors).toHaveLength(1);
      expect(String(errors[0])).toContain(`proxy fault in ${entry}`);
      await waitFor(() => w.upstream.lease.inFlight === 0 && proxy.stats().requestsInFlight === 0, 'in-flight counts back to 0', 5000);
      const next = await get(port, '/echo');
      expect(next.status).toBe(200);
      expect(next.body).toBe('echo');
      // Nothing left behind (and no late 'close' of this test's sockets meets the next test's probe).
      await waitFor(() => proxy.stats().clientConnections === 0 && proxy.stats().workerConnections <= 1, 'connections closed');
    }, 15_000);
  }
});
