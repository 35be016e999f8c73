/**
 * The attacks of the "hostile traffic" issue, tried with raw bytes against `handover start` as
 * users run it (keeper, supervisor, the demo app as the worker): each gets its documented
 * answer, and the supervisor's pid never changes.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { waitFor } from './harness';
import { Installation } from './installation';

/** Writes the parts in turn (each once the previous answer part arrived) and collects what comes back until `done`. */
function raw(port: number, first: string, done: (text: string) => boolean, then?: (socket: net.Socket, text: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    let more = then;
    const socket = net.connect(port, '127.0.0.1', () => socket.write(first));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (more !== undefined) {
        const next = more;
        more = undefined;
        next(socket, text);
      }
      if (done(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}

describe('hostile traffic against `handover start`', () => {

  it('early answers to uploads, a Connection: content-length smuggle, h2c, a foreign version and two Hosts: documented answers, same supervisor', async () => {
    await using install = await Installation.create();
    await install.start(true);
    const pid = await install.supervisorPid();
    const port = install.proxyPort;

    // 1. An upload the demo answers (404) before its last chunk, eight times: the old engine
    // threw inside llhttp and the keeper gave up after the sixth death.
    for (let i = 0; i < 8; i++) {
      const answer = await raw(
        port,
        'POST /no-such-page HTTP/1.1\r\nHost: demo\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
        (t) => /\r\n\r\nnot found$/.test(t),
        (socket) => socket.write('5\r\nworld\r\n0\r\n\r\n'),
      );
      expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    }

    // 2. Connection: content-length: the body must stay a body (one answer on the connection).
    const smuggled = 'GET /?smuggled HTTP/1.1\r\nHost: demo\r\n\r\n';
    const smuggle = await raw(
      port,
      `POST /no-such-page HTTP/1.1\r\nHost: demo\r\nConnection: content-length\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
      (t) => /\r\n\r\nnot found$/.test(t) || /\r\n\r\nmethod not allowed$/.test(t),
    );
    expect(smuggle.match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(1);

    // 3. Upgrade: h2c is answered as plain HTTP/1.1, never switched.
    const h2c = await raw(
      port,
      'GET /healthz?h2c HTTP/1.1\r\nHost: demo\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
      (t) => t.includes('\r\n\r\n'),
    );
    expect(h2c).toMatch(/^HTTP\/1\.1 200 /);

    // 4. A request line in another version and a forged Host are refused by the proxy.
    expect(await raw(port, 'GET / HTTP/0.9\r\nHost: demo\r\n\r\n', (t) => t.includes('\r\n\r\n'))).toMatch(/^HTTP\/1\.1 505 /);
    expect(await raw(port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', (t) => t.includes('\r\n\r\n'))).toMatch(/^HTTP\/1\.1 400 /);

    // The same supervisor served all of it, and still does.
    expect(await install.supervisorPid()).toBe(pid);
    expect(install.supervisorPids()).toEqual([pid]);
    await waitFor(async () => (await fetch(`${install!.proxyUrl}/healthz`)).ok, 5_000, 'the proxy answering');
  });
});
