#!/usr/bin/env node
// The Handover demo application: a small stateful web app whose sessions live only in this
// process's memory, so a user notices at once if a request lands on the wrong worker.
// Plain Node, no dependencies. See README.md for its routes and environment.

import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';

const WORKER = process.env.HANDOVER_WORKER || 'demo';
const REVISION = process.env.HANDOVER_REVISION || 'dev';
const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT);
const COOKIE = 'demo.sid';
const TTL_SECONDS = positiveNumber(process.env.DEMO_SESSION_TTL_SECONDS, 1800, false);
const TTL_MS = TTL_SECONDS * 1000;
const START_DELAY_MS = positiveNumber(process.env.DEMO_START_DELAY_MS, 0);
const MAX_BODY = 64 * 1024;
const MAX_NOTES = 100;
const MAX_NOTE_LENGTH = 500;
const MAX_WS_MESSAGE = 1024 * 1024;
const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;

function positiveNumber(value, fallback, allowZero = true) {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    console.error(`demo ${WORKER}: ignoring invalid number ${JSON.stringify(value)}; using ${fallback}`);
    return fallback;
  }
  return n;
}

if (process.env.DEMO_FAIL_START === '1') {
  console.error(`demo ${WORKER}: DEMO_FAIL_START=1, refusing to start (a simulated start failure)`);
  process.exit(1);
}
if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) {
  console.error(`demo ${WORKER}: PORT must be set to a port number (got ${JSON.stringify(process.env.PORT ?? '')})`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Sessions: id → { id, counter, notes, expiresAt, sockets }. Sliding idle timeout.

/** @type {Map<string, {id: string, counter: number, notes: string[], expiresAt: number, sockets: Set<WebSocket>}>} */
const sessions = new Map();
/** Ids this process expired by itself and has not reported yet (reported as ttl=0 on the next response). */
const unreportedExpiries = new Set();

function createSession() {
  const session = { id: randomBytes(16).toString('base64url'), counter: 0, notes: [], expiresAt: Date.now() + TTL_MS, sockets: new Set() };
  sessions.set(session.id, session);
  return session;
}

function destroySession(session, reason) {
  sessions.delete(session.id);
  for (const ws of session.sockets) ws.close(1000, reason);
}

function sweep() {
  const now = Date.now();
  for (const session of sessions.values()) {
    if (session.expiresAt <= now) {
      destroySession(session, 'session expired');
      unreportedExpiries.add(session.id);
    }
  }
}
const sweeper = setInterval(sweep, Math.max(50, Math.min(1000, TTL_MS / 4)));
sweeper.unref();

function cookieValue(header, name) {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return null;
}

/**
 * Works out the session of a request. Returns `{ session, reports }` where reports is the list of
 * X-Handover-Session entries this response must carry about this request's own session (its full
 * TTL: each request slides it; login and logout add theirs). Sessions that expired by themselves
 * are added when the response is written (`reportHeaders`), as many as the size rule allows.
 * A cookie naming a session this process does not have is not reported: the id may well belong
 * to another worker, and a worker reports only its own sessions.
 */
function sessionOf(req) {
  const reports = new Map();
  const id = cookieValue(req.headers.cookie, COOKIE);
  let session = null;
  if (id && SESSION_ID.test(id)) {
    session = sessions.get(id) ?? null;
    const now = Date.now();
    if (session && session.expiresAt <= now) {
      // Expired but not swept yet: expire it now.
      destroySession(session, 'session expired');
      unreportedExpiries.add(session.id);
      session = null;
    }
    if (session) session.expiresAt = now + TTL_MS;
  }
  if (session) reports.set(session.id, TTL_SECONDS);
  return { session, reports };
}

/**
 * The protocol's size rule (packages/proxy/README.md): the X-Handover-Session lines of one
 * response total at most 4 KiB, so a burst of expiries never makes a response head too big for
 * the proxy (which would cost the user a 502 and the proxy every report in it). About 130 ids
 * fit; the rest wait for the next responses.
 */
const REPORT_BUDGET = 4096;
const REPORT_LINE = 'X-Handover-Session: \r\n'.length;
const entry = (id, ttl) => `${id}; ttl=${Math.ceil(ttl)}`;

/**
 * The value of this response's X-Handover-Session line, or null: the sweeper's expiries first (as
 * many as fit, oldest first; each is taken out of the backlog), then the request's own entries,
 * which always go (so the current session's entry is always last). `taken` receives the expiries
 * used, so a response that never leaves can give them back (`returnReports`).
 */
function reportHeader(reports, taken) {
  const own = [...reports].map(([id, ttl]) => entry(id, ttl));
  let size = REPORT_LINE + own.reduce((sum, e) => sum + e.length + 2, 0);
  const parts = [];
  for (const id of unreportedExpiries) {
    const e = entry(id, 0);
    if (size + e.length + 2 > REPORT_BUDGET) break;
    size += e.length + 2;
    parts.push(e);
    taken.push(id);
  }
  for (const id of taken) unreportedExpiries.delete(id);
  parts.push(...own);
  return parts.length ? parts.join(', ') : null;
}

/** Expiries a response took but could not deliver go back to the backlog. */
function returnReports(taken) {
  for (const id of taken) unreportedExpiries.add(id);
}

const sessionCookie = (id) => `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax`;
const clearedCookie = `${COOKIE}=; Path=/; Max-Age=0`;

// ---------------------------------------------------------------------------------------------
// HTTP

function state(session) {
  return {
    worker: WORKER,
    revision: REVISION,
    session: session ? { id: session.id, counter: session.counter, notes: [...session.notes] } : null,
  };
}

function send(res, status, headers, body) {
  const buffer = Buffer.from(body);
  res.writeHead(status, { 'Content-Length': buffer.length, 'Cache-Control': 'no-store', ...headers });
  res.end(buffer);
}

/** `send` with this request's session reports (and a share of the expiry backlog). */
function sendReported(res, ctx, status, headers, body) {
  const taken = [];
  const value = reportHeader(ctx.reports, taken);
  if (taken.length) res.on('close', () => res.writableFinished || returnReports(taken));
  send(res, status, value === null ? headers : { ...headers, 'X-Handover-Session': value }, body);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function noteFrom(req) {
  const body = await readBody(req);
  const type = req.headers['content-type'] ?? '';
  let note;
  if (type.includes('application/json')) {
    try {
      note = JSON.parse(body)?.note;
    } catch {
      note = undefined;
    }
  } else {
    note = new URLSearchParams(body).get('note');
  }
  return typeof note === 'string' ? note.trim().slice(0, MAX_NOTE_LENGTH) : '';
}

function addNote(session, note) {
  if (!note) return;
  session.notes.push(note);
  if (session.notes.length > MAX_NOTES) session.notes.splice(0, session.notes.length - MAX_NOTES);
}

const ROUTES = {
  'GET /': page,
  'GET /healthz': (req, res) => send(res, 200, { 'Content-Type': 'text/plain; charset=utf-8' }, 'ok'),
  'GET /api/state': (req, res, ctx) => json(res, 200, ctx, state(ctx.session)),
  'POST /login': (req, res, ctx) => redirect(res, ctx, login(ctx)),
  'POST /logout': (req, res, ctx) => redirect(res, ctx, logout(ctx)),
  'POST /count': (req, res, ctx) => {
    if (ctx.session) ctx.session.counter++;
    redirect(res, ctx);
  },
  'POST /notes': async (req, res, ctx) => {
    const note = await noteFrom(req);
    if (ctx.session) addNote(ctx.session, note);
    redirect(res, ctx);
  },
  'POST /api/login': (req, res, ctx) => {
    const headers = login(ctx);
    json(res, 200, ctx, state(ctx.session), headers);
  },
  'POST /api/logout': (req, res, ctx) => {
    const headers = logout(ctx);
    json(res, 200, ctx, state(null), headers);
  },
  'POST /api/count': (req, res, ctx) => {
    if (!ctx.session) return json(res, 401, ctx, { error: 'no session: POST /api/login first', ...state(null) });
    ctx.session.counter++;
    json(res, 200, ctx, state(ctx.session));
  },
  'POST /api/notes': async (req, res, ctx) => {
    const note = await noteFrom(req);
    if (!ctx.session) return json(res, 401, ctx, { error: 'no session: POST /api/login first', ...state(null) });
    addNote(ctx.session, note);
    json(res, 200, ctx, state(ctx.session));
  },
};

/** Starts a session if there is none; returns the headers to send. */
function login(ctx) {
  if (!ctx.session) {
    ctx.session = createSession();
    ctx.reports.set(ctx.session.id, TTL_SECONDS);
  }
  return { 'Set-Cookie': sessionCookie(ctx.session.id) };
}

/** Ends the session, if any; returns the headers to send. */
function logout(ctx) {
  if (ctx.session) {
    destroySession(ctx.session, 'logged off');
    ctx.reports.set(ctx.session.id, 0);
    ctx.session = null;
  }
  return { 'Set-Cookie': clearedCookie };
}

function json(res, status, ctx, body, headers = {}) {
  sendReported(res, ctx, status, { ...headers, 'Content-Type': 'application/json; charset=utf-8' }, JSON.stringify(body));
}

function redirect(res, ctx, headers = {}) {
  sendReported(res, ctx, 303, { ...headers, Location: '/' }, '');
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://demo');
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const route = ROUTES[`${method} ${url.pathname}`];
  if (url.pathname === '/healthz') return route ? route(req, res) : send(res, 405, { Allow: 'GET, HEAD' }, 'method not allowed');
  const ctx = sessionOf(req);
  try {
    if (route) return await route(req, res, ctx);
    const allowed = Object.keys(ROUTES)
      .filter((key) => key.endsWith(` ${url.pathname}`))
      .map((key) => key.split(' ')[0]);
    if (allowed.length) return sendReported(res, ctx, 405, { Allow: allowed.join(', '), 'Content-Type': 'text/plain' }, 'method not allowed');
    sendReported(res, ctx, 404, { 'Content-Type': 'text/plain; charset=utf-8' }, 'not found');
  } catch (err) {
    if (res.headersSent) return res.destroy();
    const status = err.status ?? 500;
    if (status === 500) console.error(`demo ${WORKER}:`, err);
    sendReported(res, ctx, status, { 'Content-Type': 'text/plain; charset=utf-8' }, err.message);
  }
});

// ---------------------------------------------------------------------------------------------
// The page

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page(req, res, ctx) {
  const { session } = ctx;
  const minutes = TTL_SECONDS >= 60 ? `${Math.round(TTL_SECONDS / 60)} min` : `${TTL_SECONDS} s`;
  const body = session
    ? `
    <section>
      <p class="muted">Session <code data-testid="session-id" id="session-id">${escapeHtml(session.id.slice(0, 8))}…</code>, kept in this worker's memory only; it ends after ${minutes} without a request.</p>
      <div class="row">
        <span class="big" data-testid="counter" id="counter">${session.counter}</span>
        <form method="post" action="/count"><button data-testid="count-button" id="count-button">Count</button></form>
      </div>
    </section>
    <section>
      <h2>Notes</h2>
      <ul data-testid="notes" id="notes">${session.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>
      <form method="post" action="/notes" class="row">
        <input name="note" data-testid="note-input" id="note-input" maxlength="${MAX_NOTE_LENGTH}" placeholder="Write a note" required>
        <button data-testid="note-button" id="note-button">Add</button>
      </form>
    </section>
    <section>
      <h2>WebSocket echo</h2>
      <form class="row" id="ws-form">
        <input data-testid="ws-input" id="ws-input" placeholder="Say something">
        <button data-testid="ws-button" id="ws-button">Send</button>
      </form>
      <pre data-testid="ws-log" id="ws-log"></pre>
    </section>
    <form method="post" action="/logout"><button class="secondary" data-testid="logout-button" id="logout-button">Log off</button></form>
    <script>
      (() => {
        const log = document.getElementById('ws-log');
        const input = document.getElementById('ws-input');
        let ws;
        const open = () => new Promise((resolve) => {
          if (ws && ws.readyState === WebSocket.OPEN) return resolve(ws);
          ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
          ws.onmessage = (e) => { log.textContent += e.data + '\\n'; };
          ws.onclose = (e) => { log.textContent += '[closed ' + e.code + (e.reason ? ' ' + e.reason : '') + ']\\n'; };
          ws.onopen = () => resolve(ws);
        });
        document.getElementById('ws-form').addEventListener('submit', async (e) => {
          e.preventDefault();
          (await open()).send(input.value);
          input.value = '';
        });
      })();
    </script>`
    : `
    <section>
      <p>You have no session on this worker yet.</p>
      <form method="post" action="/login"><button data-testid="login-button" id="login-button">Log on</button></form>
    </section>`;
  const html = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Handover demo · ${escapeHtml(WORKER)}</title>
  <style>
    :root { color-scheme: light dark; --accent: #2563eb; --muted: #6b7280; --line: #d1d5db; }
    body { font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem; }
    header { display: flex; gap: .75rem; align-items: baseline; flex-wrap: wrap; border-bottom: 1px solid var(--line); padding-bottom: .75rem; }
    h1 { font-size: 1.25rem; margin: 0; }
    h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
    .badge { border: 1px solid var(--line); border-radius: 999px; padding: 0 .6rem; font-size: .875rem; }
    .muted { color: var(--muted); font-size: .875rem; }
    .row { display: flex; gap: .5rem; align-items: center; }
    .big { font-size: 2.5rem; font-weight: 600; min-width: 3ch; font-variant-numeric: tabular-nums; }
    button { font: inherit; padding: .35rem .9rem; border-radius: .375rem; border: 1px solid var(--accent); background: var(--accent); color: white; cursor: pointer; }
    button.secondary { background: transparent; color: var(--accent); margin-top: 1.5rem; }
    input { font: inherit; padding: .3rem .5rem; border: 1px solid var(--line); border-radius: .375rem; flex: 1; }
    ul { padding-left: 1.25rem; } pre { background: rgba(127,127,127,.1); padding: .5rem; min-height: 1.5rem; white-space: pre-wrap; }
  </style>
</head>
<body>
  <header>
    <h1>Handover demo</h1>
    <span class="badge">worker <strong data-testid="worker" id="worker">${escapeHtml(WORKER)}</strong></span>
    <span class="badge">revision <strong data-testid="revision" id="revision">${escapeHtml(REVISION)}</strong></span>
  </header>
  <main>${body}
  </main>
</body>
</html>
`;
  sendReported(res, ctx, 200, { 'Content-Type': 'text/html; charset=utf-8' }, html);
}

// ---------------------------------------------------------------------------------------------
// WebSocket (RFC 6455), by hand: text frames, fragmentation, ping/pong, close. Echoes text
// messages prefixed with the worker name. Only for a request with a live session.

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** @type {Set<WebSocket>} */
const openSockets = new Set();

class WebSocket {
  constructor(socket, session) {
    this.socket = socket;
    this.session = session;
    this.buffer = Buffer.alloc(0);
    this.fragments = null; // Buffer[] while a fragmented text message is arriving
    this.fragmentsSize = 0;
    this.closeSent = false;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      openSockets.delete(this);
      session.sockets.delete(this);
    });
    openSockets.add(this);
    session.sockets.add(this);
  }

  onData(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    while (!this.socket.destroyed && !this.closeSent) {
      const frame = parseFrame(this.buffer);
      if (frame === null) return; // need more bytes
      if (frame.error) return this.fail(frame.error[0], frame.error[1]);
      this.buffer = this.buffer.subarray(frame.length);
      this.onFrame(frame);
    }
  }

  onFrame({ fin, opcode, payload }) {
    if (opcode >= 0x8) {
      if (!fin || payload.length > 125) return this.fail(1002, 'bad control frame');
      if (opcode === 0x8) return this.onClose(payload);
      if (opcode === 0x9) return this.sendFrame(0xa, payload);
      if (opcode === 0xa) return;
      return this.fail(1002, 'unknown opcode');
    }
    if (opcode === 0x2) return this.fail(1003, 'only text messages are supported');
    if (opcode === 0x1) {
      if (this.fragments) return this.fail(1002, 'new message inside a fragmented one');
      this.fragments = [];
      this.fragmentsSize = 0;
    } else if (opcode === 0x0) {
      if (!this.fragments) return this.fail(1002, 'continuation without a message');
    } else {
      return this.fail(1002, 'unknown opcode');
    }
    this.fragmentsSize += payload.length;
    if (this.fragmentsSize > MAX_WS_MESSAGE) return this.fail(1009, 'message too big');
    this.fragments.push(payload);
    if (!fin) return;
    const data = Buffer.concat(this.fragments);
    this.fragments = null;
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    } catch {
      return this.fail(1007, 'invalid UTF-8');
    }
    if (sessions.get(this.session.id) === this.session) this.session.expiresAt = Date.now() + TTL_MS;
    this.send(`${WORKER}: ${text}`);
  }

  onClose(payload) {
    let code = 1000;
    if (payload.length === 1) return this.fail(1002, 'bad close frame');
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      const valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
      if (!valid) return this.fail(1002, 'bad close code');
    }
    this.close(code);
  }

  send(text) {
    this.sendFrame(0x1, Buffer.from(text, 'utf8'));
  }

  sendFrame(opcode, payload) {
    if (this.socket.destroyed || this.closeSent) return;
    const length = payload.length;
    const head = length < 126 ? Buffer.alloc(2) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    if (length < 126) head[1] = length;
    else if (length < 65536) {
      head[1] = 126;
      head.writeUInt16BE(length, 2);
    } else {
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(length), 2);
    }
    this.socket.write(Buffer.concat([head, payload]));
  }

  /** Sends a close frame (once) and ends the connection. */
  close(code = 1000, reason = '') {
    if (this.socket.destroyed || this.closeSent) return;
    const reasonBytes = Buffer.from(reason, 'utf8').subarray(0, 123);
    const payload = Buffer.alloc(2 + reasonBytes.length);
    payload.writeUInt16BE(code, 0);
    reasonBytes.copy(payload, 2);
    this.sendFrame(0x8, payload);
    this.closeSent = true;
    this.socket.end();
    // A client that never closes its side must not keep us alive.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  fail(code, reason) {
    this.close(code, reason);
  }
}

/** Parses one frame from the front of `buf`: null when incomplete, `{ error: [code, reason] }` on a protocol error. */
function parseFrame(buf) {
  if (buf.length < 2) return null;
  const fin = (buf[0] & 0x80) !== 0;
  if (buf[0] & 0x70) return { error: [1002, 'reserved bits set'] };
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  if (!masked) return { error: [1002, 'client frames must be masked'] };
  let length = buf[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buf.length < 4) return null;
    length = buf.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buf.length < 10) return null;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(MAX_WS_MESSAGE)) return { error: [1009, 'message too big'] };
    length = Number(big);
    offset = 10;
  }
  if (length > MAX_WS_MESSAGE) return { error: [1009, 'message too big'] };
  if (buf.length < offset + 4 + length) return null;
  const mask = buf.subarray(offset, offset + 4);
  const payload = Buffer.from(buf.subarray(offset + 4, offset + 4 + length));
  for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
  return { fin, opcode, payload, length: offset + 4 + length };
}

function refuseUpgrade(socket, status, text, headers = {}, written = undefined) {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.write(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${extra}\r\n${text}`, written);
  socket.end();
}

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  const url = new URL(req.url ?? '/', 'http://demo');
  if (url.pathname !== '/ws') return refuseUpgrade(socket, 404, 'not found');
  const key = req.headers['sec-websocket-key'];
  if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) {
    return refuseUpgrade(socket, 400, 'bad WebSocket handshake');
  }
  if (req.headers['sec-websocket-version'] !== '13') return refuseUpgrade(socket, 426, 'WebSocket version 13 only', { 'Sec-WebSocket-Version': '13' });
  const ctx = sessionOf(req);
  const taken = [];
  const report = reportHeader(ctx.reports, taken);
  // Written in one go on a live socket: a write that fails returns the expiries to the backlog.
  const delivered = (error) => error && returnReports(taken);
  if (!ctx.session) {
    return refuseUpgrade(socket, 401, 'log on first: the WebSocket needs a session', report === null ? {} : { 'X-Handover-Session': report }, delivered);
  }
  const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\nX-Handover-Session: ${report}\r\n\r\n`,
    delivered,
  );
  const ws = new WebSocket(socket, ctx.session);
  if (head && head.length) ws.onData(head);
});

// ---------------------------------------------------------------------------------------------
// Start and stop

server.on('error', (err) => {
  console.error(`demo ${WORKER}: cannot listen on ${HOST}:${PORT}: ${err.message}`);
  process.exit(1);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`demo ${WORKER}: ${signal} received, closing`);
  clearInterval(sweeper);
  for (const ws of openSockets) ws.close(1001, 'server going away');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  // In-flight requests get a moment; then we go regardless (still a clean exit).
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, 5000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

setTimeout(() => {
  if (stopping) return;
  server.listen(PORT, HOST, () => {
    console.log(`demo ${WORKER} (${REVISION}) listening on ${HOST}:${PORT}`);
  });
}, START_DELAY_MS);
