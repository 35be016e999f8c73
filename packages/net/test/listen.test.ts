import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listenServer } from '../src/index';


/** One line the server at host:port writes to a new connection. */
function greeting(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(port, host);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

/** Held with `await using`: a net.Server closes itself on dispose (Node ≥ 20.5). */
const greeter = () => createServer((socket) => socket.end(`hello from ${process.pid}\n`));

describe('listenServer', () => {
  it('resolves the port it got: an ephemeral one for port 0, where it then answers', async () => {
    await using server = greeter();
    const port = await listenServer(server, 0, '127.0.0.1');
    expect(port).toBeGreaterThan(0);
    expect(port).toBe((server.address() as AddressInfo).port);
    expect(await greeting(port)).toBe(`hello from ${process.pid}\n`);
  });

  it('takes an HTTP server as well, and an IPv6 host', async () => {
    await using server = createHttpServer((_req, res) => res.end('ok'));
    const port = await listenServer(server, 0, '::1').catch((error: NodeJS.ErrnoException) => {
      // A machine without IPv6 loopback: nothing to check here.
      if (error.code === 'EADDRNOTAVAIL' || error.code === 'EAFNOSUPPORT') return null;
      throw error;
    });
    if (port === null) return;
    expect(await (await fetch(`http://[::1]:${port}/`)).text()).toBe('ok');
  });

  it('rejects with EADDRINUSE for a port another server holds, and leaves no error listener behind', async () => {
    await using holder = greeter();
    const port = await listenServer(holder, 0, '127.0.0.1');
    await using second = greeter();
    const before = second.listenerCount('error');
    await expect(listenServer(second, port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // Only the one-shot listener it added, already fired and gone.
    expect(second.listenerCount('error')).toBe(before);
    expect(second.listening).toBe(false);
  });

  it('listens on an inherited socket (fd) instead of binding: the port the parent bound answers, from the child', async () => {
    // The parent (as Handover's keeper does) holds a bound socket and hands it down as fd 3;
    // it closes its own copy once the child listens, so only the child can answer.
    await using parent = greeter();
    const port = await listenServer(parent, 0, '127.0.0.1');
    const fd = (parent as unknown as { _handle: { fd: number } })._handle.fd;
    const script = `
      const { createServer } = await import('node:net');
      const { listenServer } = await import(${JSON.stringify(join(import.meta.dirname, '../src/listen.ts'))});
      const server = createServer((socket) => socket.end('hello from the child\\n'));
      const port = await listenServer(server, 0, '127.0.0.1', 3);
      process.stdout.write(String(port) + '\\n');
      process.on('SIGTERM', () => server.close(() => process.exit(0)));`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit', fd] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const reported = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
          out += chunk;
          if (out.includes('\n')) resolve(out.trim());
        });
        child.once('exit', (code) => reject(new Error(`the child exited (${code}) before it listened`)));
      });
      // Port 0 asked, the inherited socket's port got.
      expect(Number(reported)).toBe(port);
      await new Promise<void>((resolve) => parent.close(() => resolve()));
      expect(await greeting(port)).toBe('hello from the child\n');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 30_000);
});
