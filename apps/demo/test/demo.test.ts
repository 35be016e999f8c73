import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { drained, freePort, markAddressInUse, retryOnAddressInUse } from '../../../test-support/ports';

const SERVER = path.resolve(__dirname, '../server.mjs');
const DEADLINE_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Helpers: run the real server.mjs as a child process

/** A running demo; `await using` kills it (SIGKILL) and waits for its exit when the test ends. */
interface Demo extends AsyncDisposable {
  child: ChildProcess;
  port: number;
  base: string;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnDemo(env: Record<string, string>, port: number): Demo & { portReady: Promise<number> } {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH, HANDOVER_WORKER: 'web@0', HANDOVER_REVISION: 'v1', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const portReady = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not print its listening line in time; stdout: ${out}; stderr: ${err}`)), DEADLINE_MS);
    child.stdout!.on('data', () => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exit.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`demo exited with ${code} before listening; stderr: ${err}`));
    });
  });
  portReady.catch(() => {});
  const dispose = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exit;
  };
  return { child, port, base: `http://127.0.0.1:${port}`, stdout: () => out, stderr: () => err, exit, portReady, [Symbol.asyncDispose]: dispose };
}

/** On a port chosen now; again on another one if it was taken before the demo bound it. */
async function startDemo(env: Record<string, string> = {}): Promise<Demo> {
  return retryOnAddressInUse(async () => {
    const demo = spawnDemo(env, await freePort());
    await demo.portReady.catch(async (error: unknown) => {
      await drained(demo.child);
      throw markAddressInUse(error, demo.stderr());
    });
    return demo;
  });
}

/** A tiny cookie-keeping client for one user. */
class Browser {
  cookie: string | null = null;
  constructor(private readonly base: string) {}

  async request(method: string, pathname: string, body?: string, contentType = 'application/x-www-form-urlencoded') {
    const headers: Record<string, string> = {};
    if (this.cookie) headers.cookie = this.cookie;
    if (body !== undefined) headers['content-type'] = contentType;
    const res = await fetch(this.base + pathname, { method, headers, body, redirect: 'manual' });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) {
      const [pair] = setCookie.split(';');
      this.cookie = /Max-Age=0/i.test(setCookie) || pair!.endsWith('=') ? null : pair!;
    }
    return { res, text: await res.text() };
  }

  async json(method: string, pathname: string, body?: unknown) {
    const { res, text } = await this.request(method, pathname, body === undefined ? undefined : JSON.stringify(body), 'application/json');
    return { res, body: JSON.parse(text) as { worker: string; revision: string; session: { id: string; counter: number; notes: string[] } | null; error?: string } };
  }
}

// ---------------------------------------------------------------------------------------------
// A raw RFC 6455 client, so the server's framing is checked byte by byte.

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

class RawWebSocket {
  private buffer = Buffer.alloc(0);
  private waiters: Array<(f: Frame) => void> = [];
  private frames: Frame[] = [];
  readonly closed: Promise<void>;

  private constructor(
    readonly socket: net.Socket,
    readonly response: string,
  ) {
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  /** Opens /ws; resolves with the socket, or rejects with the HTTP status line + headers when refused. */
  static open(port: number, cookie: string | null, extraHeaders = ''): Promise<RawWebSocket> {
    return new Promise((resolve, reject) => {
      const key = randomBytes(16).toString('base64');
      const socket = net.connect(port, '127.0.0.1');
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const response = head.subarray(0, end).toString('latin1');
        if (!response.startsWith('HTTP/1.1 101')) {
          socket.destroy();
          return reject(Object.assign(new Error(response.split('\r\n')[0]), { response }));
        }
        const accept = /sec-websocket-accept: (.+)/i.exec(response)?.[1]?.trim();
        const expected = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        if (accept !== expected) return reject(new Error(`bad Sec-WebSocket-Accept ${accept}`));
        const ws = new RawWebSocket(socket, response);
        const rest = head.subarray(end + 4);
        if (rest.length) ws.onData(rest);
        resolve(ws);
      };
      socket.on('data', onData);
      socket.on('error', reject);
      socket.write(
        'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${cookie ? `Cookie: ${cookie}\r\n` : ''}${extraHeaders}\r\n`,
      );
    });
  }

  private onData(chunk: Buffer) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.buffer.length < 2) return;
      const b0 = this.buffer[0]!;
      const b1 = this.buffer[1]!;
      expect(b1 & 0x80).toBe(0); // server frames are never masked
      let length = b1 & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) return;
      const frame = { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload: Buffer.from(this.buffer.subarray(offset, offset + length)) };
      this.buffer = this.buffer.subarray(offset + length);
      const waiter = this.waiters.shift();
      if (waiter) waiter(frame);
      else this.frames.push(frame);
    }
  }

  next(): Promise<Frame> {
    const ready = this.frames.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no frame in time')), DEADLINE_MS);
      this.waiters.push((f) => {
        clearTimeout(timer);
        resolve(f);
      });
    });
  }

  sendFrame(opcode: number, payload: Buffer | string, { fin = true, masked = true } = {}) {
    const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const len = data.length;
    const head = len < 126 ? Buffer.from([0, len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | opcode;
    if (len >= 126 && len < 65536) {
      head[1] = 126;
      head.writeUInt16BE(len, 2);
    } else if (len >= 65536) {
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(len), 2);
    }
    if (!masked) return this.socket.write(Buffer.concat([head, data]));
    head[1] = head[1]! | 0x80;
    const mask = randomBytes(4);
    const body = Buffer.from(data.map((b, i) => b ^ mask[i & 3]!));
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  sendText(text: string) {
    this.sendFrame(0x1, text);
  }

  async receiveText(): Promise<string> {
    const frame = await this.next();
    expect(frame.opcode).toBe(0x1);
    return frame.payload.toString('utf8');
  }

  async receiveClose(): Promise<number> {
    const frame = await this.next();
    expect(frame.opcode).toBe(0x8);
    return frame.payload.readUInt16BE(0);
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

const ID = /^[A-Za-z0-9_-]{22}$/;

// ---------------------------------------------------------------------------------------------

describe('demo app: HTML', () => {
  it('logs on, counts, adds notes and logs off through the page', async () => {
    await using demo = await startDemo();
    const user = new Browser(demo.base);

    let { res, text } = await user.request('GET', '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(text).toContain('data-testid="worker" id="worker">web@0<');
    expect(text).toContain('data-testid="revision" id="revision">v1<');
    expect(text).toContain('data-testid="login-button"');
    expect(text).not.toContain('data-testid="counter"');
    expect(res.headers.get('x-handover-session')).toBeNull();

    ({ res } = await user.request('POST', '/login'));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^demo\.sid=[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; SameSite=Lax$/);
    const id = user.cookie!.split('=')[1]!;
    expect(id).toMatch(ID);
    expect(Buffer.from(id, 'base64url')).toHaveLength(16);

    ({ res, text } = await user.request('GET', '/'));
    expect(text).toContain('data-testid="counter" id="counter">0<');
    expect(text).toContain('data-testid="count-button"');
    expect(text).toContain('data-testid="logout-button"');
    expect(text).toContain('data-testid="notes"');
    expect(text).not.toContain('data-testid="login-button"');

    await user.request('POST', '/count');
    ({ res } = await user.request('POST', '/count'));
    expect(res.status).toBe(303);
    ({ res } = await user.request('POST', '/notes', new URLSearchParams({ note: '<b>milk</b> & eggs' }).toString()));
    expect(res.status).toBe(303);
    ({ text } = await user.request('GET', '/'));
    expect(text).toContain('id="counter">2<');
    expect(text).toContain('<li>&lt;b&gt;milk&lt;/b&gt; &amp; eggs</li>');

    ({ res } = await user.request('POST', '/logout'));
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toBe('demo.sid=; Path=/; Max-Age=0');
    expect(res.headers.get('x-handover-session')).toBe(`${id}; ttl=0`);
    expect(user.cookie).toBeNull();
    ({ text } = await user.request('GET', '/'));
    expect(text).toContain('data-testid="login-button"');
  });

  it('keeps sessions apart and forgets a session id it does not know', async () => {
    await using demo = await startDemo();
    const alice = new Browser(demo.base);
    const bob = new Browser(demo.base);
    await alice.request('POST', '/login');
    await bob.request('POST', '/login');
    await alice.request('POST', '/count');
    expect((await alice.json('GET', '/api/state')).body.session!.counter).toBe(1);
    expect((await bob.json('GET', '/api/state')).body.session!.counter).toBe(0);

    const stranger = new Browser(demo.base);
    stranger.cookie = 'demo.sid=AAAAAAAAAAAAAAAAAAAAAA';
    const { res, body } = await stranger.json('GET', '/api/state');
    expect(body.session).toBeNull();
    expect(res.headers.get('x-handover-session')).toBeNull(); // not this worker's session: not reported
    expect((await stranger.json('POST', '/api/count')).res.status).toBe(401);
  });
});

describe('demo app: JSON API and session reporting', () => {
  it('logs on, counts exactly once per call, adds notes and logs off', async () => {
    await using demo = await startDemo({ DEMO_SESSION_TTL_SECONDS: '120' });
    const user = new Browser(demo.base);

    let r = await user.json('GET', '/api/state');
    expect(r.body).toEqual({ worker: 'web@0', revision: 'v1', session: null });

    r = await user.json('POST', '/api/login');
    expect(r.res.status).toBe(200);
    const id = r.body.session!.id;
    expect(id).toMatch(ID);
    expect(r.body).toEqual({ worker: 'web@0', revision: 'v1', session: { id, counter: 0, notes: [] } });
    expect(r.res.headers.get('set-cookie')).toBe(`demo.sid=${id}; Path=/; HttpOnly; SameSite=Lax`);
    expect(r.res.headers.get('x-handover-session')).toBe(`${id}; ttl=120`);

    // Logging on again keeps the session.
    r = await user.json('POST', '/api/login');
    expect(r.body.session!.id).toBe(id);

    for (let i = 1; i <= 25; i++) {
      r = await user.json('POST', '/api/count');
      expect(r.body.session!.counter).toBe(i);
      expect(r.res.headers.get('x-handover-session')).toBe(`${id}; ttl=120`);
    }
    await Promise.all(Array.from({ length: 20 }, () => user.json('POST', '/api/count')));
    expect((await user.json('GET', '/api/state')).body.session!.counter).toBe(45);

    r = await user.json('POST', '/api/notes', { note: '  first  ' });
    expect(r.body.session!.notes).toEqual(['first']);

    r = await user.json('POST', '/api/logout');
    expect(r.body).toEqual({ worker: 'web@0', revision: 'v1', session: null });
    expect(r.res.headers.get('set-cookie')).toBe('demo.sid=; Path=/; Max-Age=0');
    expect(r.res.headers.get('x-handover-session')).toBe(`${id}; ttl=0`);

    // The old id is gone for good.
    user.cookie = `demo.sid=${id}`;
    expect((await user.json('GET', '/api/state')).body.session).toBeNull();
    expect((await user.json('POST', '/api/count')).res.status).toBe(401);
  });

  it('expires idle sessions by itself and reports them with ttl=0, next to the current session', async () => {
    await using demo = await startDemo({ DEMO_SESSION_TTL_SECONDS: '0.3' });
    const user = new Browser(demo.base);
    const other = new Browser(demo.base);
    const { body, res } = await user.json('POST', '/api/login');
    const id = body.session!.id;
    expect(res.headers.get('x-handover-session')).toBe(`${id}; ttl=1`); // whole seconds, rounded up
    const otherId = (await other.json('POST', '/api/login')).body.session!.id;

    // The other user keeps its own session alive (each request slides it); the first of its
    // responses after the expiry reports both sessions in one header.
    const report = await until('the expiry report', async () => {
      const got = (await other.json('GET', '/api/state')).res.headers.get('x-handover-session')!;
      return got.includes(id) ? got : undefined;
    });
    expect(report).toBe(`${id}; ttl=0, ${otherId}; ttl=1`);
    // Reported once only.
    expect((await other.json('GET', '/api/state')).res.headers.get('x-handover-session')).toBe(`${otherId}; ttl=1`);
    expect((await user.json('GET', '/api/state')).body.session).toBeNull();
  });

  it('answers 404 and 405 sensibly', async () => {
    await using demo = await startDemo();
    expect((await fetch(`${demo.base}/nope`)).status).toBe(404);
    const res = await fetch(`${demo.base}/api/count`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('demo app: health, WebSocket, lifecycle', () => {
  it('answers /healthz with 200 ok', async () => {
    await using demo = await startDemo();
    const res = await fetch(`${demo.base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(demo.stdout()).toBe(`demo web@0 (v1) listening on 127.0.0.1:${demo.port}\n`);
  });

  it('echoes WebSocket text messages prefixed with the worker name, with ping/pong and close', async () => {
    await using demo = await startDemo({ HANDOVER_WORKER: 'web@3' });
    const user = new Browser(demo.base);
    const id = (await user.json('POST', '/api/login')).body.session!.id;

    const ws = await RawWebSocket.open(demo.port, user.cookie);
    expect(ws.response).toContain(`X-Handover-Session: ${id}; ttl=1800`);
    ws.sendText('hello');
    expect(await ws.receiveText()).toBe('web@3: hello');

    ws.sendText('héllo ✓');
    expect(await ws.receiveText()).toBe('web@3: héllo ✓');

    // A fragmented message, a ping in between.
    ws.sendFrame(0x1, 'frag', { fin: false });
    ws.sendFrame(0x9, 'are you there');
    ws.sendFrame(0x0, 'mented');
    const pong = await ws.next();
    expect(pong.opcode).toBe(0xa);
    expect(pong.payload.toString()).toBe('are you there');
    expect(await ws.receiveText()).toBe('web@3: fragmented');

    // Medium (16-bit length) and large (64-bit length) messages.
    const medium = 'm'.repeat(1000);
    ws.sendText(medium);
    expect(await ws.receiveText()).toBe(`web@3: ${medium}`);
    const large = 'L'.repeat(70_000);
    ws.sendText(large);
    expect(await ws.receiveText()).toBe(`web@3: ${large}`);

    // Close handshake: the server answers with the same code and ends the connection.
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    ws.sendFrame(0x8, code);
    expect(await ws.receiveClose()).toBe(1000);
    await ws.closed;
  });

  it('refuses a WebSocket without a session (401) and a bad handshake (400, 426)', async () => {
    await using demo = await startDemo();
    await expect(RawWebSocket.open(demo.port, null)).rejects.toThrow('HTTP/1.1 401 Unauthorized');
    await expect(RawWebSocket.open(demo.port, 'demo.sid=AAAAAAAAAAAAAAAAAAAAAA')).rejects.toThrow('401');

    const user = new Browser(demo.base);
    await user.json('POST', '/api/login');
    const raw = async (request: string) =>
      new Promise<string>((resolve) => {
        const s = net.connect(demo.port, '127.0.0.1', () => s.write(request));
        let got = '';
        s.on('data', (d) => (got += d.toString()));
        s.on('close', () => resolve(got));
      });
    const noKey = await raw(`GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nCookie: ${user.cookie}\r\n\r\n`);
    expect(noKey).toMatch(/^HTTP\/1\.1 400/);
    const oldVersion = await raw(
      `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 8\r\nCookie: ${user.cookie}\r\n\r\n`,
    );
    expect(oldVersion).toMatch(/^HTTP\/1\.1 426/);
    expect(oldVersion).toContain('Sec-WebSocket-Version: 13');
  });

  it('closes a WebSocket on protocol errors: unmasked frame (1002), binary (1003), bad UTF-8 (1007)', async () => {
    await using demo = await startDemo();
    const user = new Browser(demo.base);
    await user.json('POST', '/api/login');

    let ws = await RawWebSocket.open(demo.port, user.cookie);
    ws.sendFrame(0x1, 'hi', { masked: false });
    expect(await ws.receiveClose()).toBe(1002);
    await ws.closed;

    ws = await RawWebSocket.open(demo.port, user.cookie);
    ws.sendFrame(0x2, Buffer.from([1, 2, 3]));
    expect(await ws.receiveClose()).toBe(1003);
    await ws.closed;

    ws = await RawWebSocket.open(demo.port, user.cookie);
    ws.sendFrame(0x1, Buffer.from([0xc3, 0x28]));
    expect(await ws.receiveClose()).toBe(1007);
    await ws.closed;
  });

  it('closes the WebSockets of a session that logs off', async () => {
    await using demo = await startDemo();
    const user = new Browser(demo.base);
    await user.json('POST', '/api/login');
    const ws = await RawWebSocket.open(demo.port, user.cookie);
    ws.sendText('x');
    await ws.receiveText();
    await user.json('POST', '/api/logout');
    const frame = await ws.next();
    expect(frame.opcode).toBe(0x8);
    expect(frame.payload.readUInt16BE(0)).toBe(1000);
    expect(frame.payload.subarray(2).toString()).toBe('logged off');
  });

  it('exits 0 on SIGTERM, closing open WebSockets with 1001', async () => {
    await using demo = await startDemo();
    const user = new Browser(demo.base);
    await user.json('POST', '/api/login');
    const ws = await RawWebSocket.open(demo.port, user.cookie);
    // A keep-alive HTTP connection stays open too.
    await user.json('GET', '/api/state');
    demo.child.kill('SIGTERM');
    expect(await ws.receiveClose()).toBe(1001);
    expect(await demo.exit).toEqual({ code: 0, signal: null });
  });

  it('exits 1 with a message on DEMO_FAIL_START=1', async () => {
    await using demo = spawnDemo({ DEMO_FAIL_START: '1' }, await freePort());
    await expect(demo.portReady).rejects.toThrow('exited with 1');
    expect((await demo.exit).code).toBe(1);
    expect(demo.stderr()).toContain('DEMO_FAIL_START');
  });

  it('exits 1 when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await using demo = spawnDemo({}, port);
      expect((await demo.exit).code).toBe(1);
      expect(demo.stderr()).toContain('cannot listen');
    } finally {
      blocker.close();
    }
  });

  it('waits DEMO_START_DELAY_MS before listening', async () => {
    const started = Date.now();
    await using demo = await startDemo({ DEMO_START_DELAY_MS: '400' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect((await fetch(`${demo.base}/healthz`)).status).toBe(200);
  });
});
