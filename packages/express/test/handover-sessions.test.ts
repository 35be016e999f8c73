/**
 * @handover/express against the real thing: Express 5 and express-session on a real socket,
 * the header read off the wire. Each test's app is the usual one with
 * `app.use(handoverSessions())` added right after `app.use(session(…))`.
 */
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { afterEach, describe, expect, it } from 'vitest';
import { HEADER, MAX_HEADER_BYTES, handoverSessions, type HandoverSessionsOptions } from '../src/index';

const SECRET = 'a test secret';
const MAX_AGE_MS = 30 * 60 * 1000;

declare module 'express-session' {
  interface SessionData {
    user: string;
    counter: number;
  }
}

type SessionOptions = Parameters<typeof session>[0];

interface Started {
  url: string;
  store: session.MemoryStore;
  /** Requests to /slow-state that have arrived. */
  slow?: { arrived: number };
  close(): Promise<void>;
}

const running: Started[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

/** An app as people write it, plus the one line. */
async function start(sessionOptions: Partial<SessionOptions> = {}, handover: HandoverSessionsOptions | false = {}): Promise<Started> {
  const store = new session.MemoryStore();
  const slow = { arrived: 0 };
  const app = express();
  app.use(
    session({
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      store,
      cookie: { maxAge: MAX_AGE_MS },
      ...sessionOptions,
    }),
  );
  // No side channel unless a test gives one (the variables are not set here anyway).
  if (handover !== false) app.use(handoverSessions({ sideChannel: false, ...handover }));

  app.get('/plain', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/state', (req, res) => {
    res.json({ user: req.session.user ?? null, counter: req.session.counter ?? null });
  });
  app.post('/count', (req, res) => {
    req.session.counter = (req.session.counter ?? 0) + 1;
    res.json({ counter: req.session.counter });
  });
  app.post('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.user = 'alice';
      req.session.counter = 0;
      res.json({ user: 'alice' });
    });
  });
  // A new session and at once a new id, in one request (the first id never reached a browser).
  app.post('/count-and-login', (req, res, next) => {
    req.session.counter = 1;
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.user = 'alice';
      res.json({ user: 'alice' });
    });
  });
  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => {
      if (err) return next(err);
      res.json({ loggedOut: true });
    });
  });
  app.post('/unset', (req, res) => {
    (req as { session: unknown }).session = null;
    res.json({ unset: true });
  });
  // Streamed: the head goes out with the first write.
  app.get('/stream-count', (req, res) => {
    req.session.counter = (req.session.counter ?? 0) + 1;
    res.write('counting…\n');
    setTimeout(() => res.end(`${req.session.counter}\n`), 20);
  });
  app.post('/stream-logout', (req, res) => {
    res.write('bye…\n');
    req.session.destroy(() => res.end('done\n'));
  });
  // A slow read: answers after `ms`, with whatever session is left by then.
  app.get('/slow-state', (req, res) => {
    slow.arrived++;
    setTimeout(() => res.json({ user: req.session.user ?? null }), Number(req.query.ms ?? 200));
  });
  // The head written by hand, with its headers as an argument.
  app.post('/explicit-head', (req, res) => {
    req.session.counter = (req.session.counter ?? 0) + 1;
    res.writeHead(201, { 'content-type': 'text/plain' });
    res.end('counted\n');
  });
  // An app that reports something itself: its line is kept.
  app.get('/own-report', (_req, res) => {
    res.setHeader(HEADER, 'its-own; ttl=5');
    res.json({ ok: true });
  });
  // "Log out everywhere": an admin ends every session in the store, none of them its own.
  app.post('/destroy-all', (_req, res, next) => {
    store.all((err, all) => {
      if (err) return next(err);
      const ids = Object.keys(all ?? {});
      for (const id of ids) store.destroy(id);
      res.json({ destroyed: ids.length });
    });
  });

  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const started: Started = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    store,
    slow,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  running.push(started);
  return started;
}

interface Answer {
  status: number;
  /** X-Handover-Session as one string (lines joined by ", "), null when absent. */
  report: string | null;
  /** The session cookie's value in Set-Cookie, exactly as the browser will send it back. */
  setCookie: string | undefined;
  setCookieLines: string[];
  text: string;
}

/** One browser: a cookie jar for `connect.sid` (or another name). */
class Browser {
  cookie: string | undefined;
  constructor(
    readonly base: string,
    readonly name = 'connect.sid',
  ) {}

  async request(method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
    const all = { ...headers };
    if (this.cookie !== undefined) all.cookie = `${this.name}=${this.cookie}`;
    const res = await fetch(this.base + path, { method, headers: all });
    const lines = res.headers.getSetCookie();
    let setCookie: string | undefined;
    for (const line of lines) {
      if (!line.startsWith(`${this.name}=`)) continue;
      setCookie = line.slice(this.name.length + 1).split(';')[0];
      if (/expires=thu, 01 jan 1970/i.test(line) || setCookie === '') this.cookie = undefined;
      else this.cookie = setCookie;
    }
    return { status: res.status, report: res.headers.get(HEADER), setCookie, setCookieLines: lines, text: await res.text() };
  }
}

/** The express-session cookie value for `id`, as express-session writes it. */
function signedCookie(id: string, secret = SECRET): string {
  return `s:${id}.${createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')}`;
}

const TTL = `ttl=${MAX_AGE_MS / 1000}`;

describe('handoverSessions() with express-session', () => {
  it('reports a new session by its cookie as the browser sends it (s%3A<id>.<signature>), then each use, with the cookie’s maxAge as ttl', async () => {
    const app = await start();
    const alice = new Browser(app.url);

    const first = await alice.request('POST', '/count');
    expect(first.setCookie).toMatch(/^s%3A[\w-]+\.[\w%]+$/);
    expect(first.report).toBe(`${first.setCookie}; ${TTL}`);

    const used = await alice.request('GET', '/state');
    expect(used.setCookie).toBeUndefined();
    expect(used.report).toBe(`${first.setCookie}; ${TTL}`);
    expect(JSON.parse(used.text)).toEqual({ user: null, counter: 1 });
  });

  it('creates and reports nothing for a request without a session (saveUninitialized: false)', async () => {
    const app = await start();
    const visitor = new Browser(app.url);
    for (const path of ['/plain', '/state']) {
      const answer = await visitor.request('GET', path);
      expect(answer.report).toBeNull();
      expect(answer.setCookieLines).toEqual([]);
    }
    expect(await storeLength(app.store)).toBe(0);
  });

  it('does not report a stale or forged cookie express-session did not load, and never echoes a client’s header', async () => {
    const app = await start();
    const mallory = new Browser(app.url);
    mallory.cookie = encodeURIComponent(signedCookie('not-a-session-here'));
    const answer = await mallory.request('GET', '/state', { [HEADER]: 'victim; ttl=99999', 'x-handover-anything': '1' });
    expect(answer.report).toBeNull();
    expect(answer.setCookieLines).toEqual([]);

    // A real session's id under a bad signature: express-session starts afresh, nothing reported.
    const alice = new Browser(app.url);
    await alice.request('POST', '/count');
    const id = await onlyId(app.store);
    mallory.cookie = encodeURIComponent(signedCookie(id, 'wrong secret'));
    expect((await mallory.request('GET', '/state')).report).toBeNull();
  });

  it('login (regenerate): the new cookie with its ttl and the old one with ttl=0, on the login response', async () => {
    const app = await start();
    const alice = new Browser(app.url);
    const old = (await alice.request('POST', '/count')).setCookie!;

    const login = await alice.request('POST', '/login');
    expect(login.setCookie).toBeDefined();
    expect(login.setCookie).not.toBe(old);
    expect(login.report).toBe(`${login.setCookie}; ${TTL}, ${old}; ttl=0`);
    expect(await storeLength(app.store)).toBe(1);
  });

  it('a session created and regenerated in one request: only the id that reached the browser', async () => {
    const app = await start();
    const alice = new Browser(app.url);
    const login = await alice.request('POST', '/count-and-login');
    expect(login.report).toBe(`${login.setCookie}; ${TTL}`);
  });

  it('logout (destroy, the cookie left in the browser): ttl=0 on the logout response; the same cookie afterwards reports nothing', async () => {
    const app = await start();
    const alice = new Browser(app.url);
    await alice.request('POST', '/count');
    const cookie = (await alice.request('POST', '/login')).setCookie!;

    const logout = await alice.request('POST', '/logout');
    expect(logout.setCookieLines).toEqual([]);
    expect(alice.cookie).toBe(cookie);
    expect(logout.report).toBe(`${cookie}; ttl=0`);
    expect(await storeLength(app.store)).toBe(0);

    const after = await alice.request('GET', '/state');
    expect(after.report).toBeNull();
    expect(after.setCookieLines).toEqual([]);
  });

  it('a request of the session still in flight when another logs out reports it ended too, never as used', async () => {
    const app = await start();
    const alice = new Browser(app.url);
    const cookie = (await alice.request('POST', '/count')).setCookie!;
    const slow = alice.request('GET', '/slow-state?ms=300');
    await until(() => app.slow!.arrived === 1);
    const logout = await alice.request('POST', '/logout');
    expect(logout.report).toBe(`${cookie}; ttl=0`);
    // Answered after the logout: reporting it as used would bind it again in the proxy.
    expect((await slow).report).toBe(`${cookie}; ttl=0`);
  });

  it('unset: "destroy" with req.session = null reports ttl=0; with the default "keep" the session lives on and is reported as used', async () => {
    for (const unset of ['destroy', 'keep'] as const) {
      const app = await start({ unset });
      const alice = new Browser(app.url);
      const cookie = (await alice.request('POST', '/count')).setCookie!;
      const answer = await alice.request('POST', '/unset');
      expect(answer.report).toBe(unset === 'destroy' ? `${cookie}; ttl=0` : `${cookie}; ${TTL}`);
      expect(await storeLength(app.store)).toBe(unset === 'destroy' ? 0 : 1);
    }
  });

  it('a streamed response: the session goes out with the head; one destroyed after the head is reported on the next response', async () => {
    const app = await start();
    const alice = new Browser(app.url);
    const streamed = await alice.request('GET', '/stream-count');
    expect(streamed.text).toBe('counting…\n1\n');
    expect(streamed.report).toBe(`${streamed.setCookie}; ${TTL}`);
    const cookie = streamed.setCookie!;
    expect((await alice.request('GET', '/stream-count')).report).toBe(`${cookie}; ${TTL}`);

    const logout = await alice.request('POST', '/stream-logout');
    expect(logout.text).toBe('bye…\ndone\n');
    expect(logout.report).toBe(`${cookie}; ${TTL}`); // the head went out before the destroy
    expect(await storeLength(app.store)).toBe(0);
    // Carried over to whatever response comes next, once.
    const someoneElse = new Browser(app.url);
    expect((await someoneElse.request('GET', '/plain')).report).toBe(`${cookie}; ttl=0`);
    expect((await someoneElse.request('GET', '/plain')).report).toBeNull();
  });

  it('with a side channel, a session destroyed after the head is POSTed there at once (Bearer token), not left for a response', async () => {
    const posts: Array<{ authorization: string | undefined; body: string }> = [];
    const channel = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        posts.push({ authorization: req.headers.authorization, body });
        res.writeHead(204).end();
      });
    });
    channel.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => channel.once('listening', resolve));
    running.push({ url: '', store: new session.MemoryStore(), close: () => new Promise((resolve) => channel.close(() => resolve())) });
    const url = `http://127.0.0.1:${(channel.address() as AddressInfo).port}/session-reports/web%400`;

    const app = await start({}, { sideChannel: { url, token: 'worker-token' } });
    const alice = new Browser(app.url);
    const cookie = (await alice.request('POST', '/count')).setCookie!;
    expect(posts).toEqual([]); // reports that ride on responses do not use it
    await alice.request('POST', '/stream-logout');
    await until(() => posts.length > 0);
    expect(posts).toEqual([{ authorization: 'Bearer worker-token', body: `${cookie}; ttl=0` }]);
    expect((await new Browser(app.url).request('GET', '/plain')).report).toBeNull();
  });

  it('a side channel that cannot be reached: the report rides on the next response instead', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => closed.once('listening', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/session-reports/web%400`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const app = await start({}, { sideChannel: { url, token: 'worker-token' } });
    const alice = new Browser(app.url);
    const cookie = (await alice.request('POST', '/count')).setCookie!;
    await alice.request('POST', '/stream-logout');
    const other = new Browser(app.url);
    let report: string | null = null;
    await until(async () => (report = (await other.request('GET', '/plain')).report) !== null);
    expect(report).toBe(`${cookie}; ttl=0`);
  });

  it('sessions destroyed by another request ("log out everywhere") are reported on the next responses, 4 KiB at most per response', async () => {
    const app = await start();
    const cookies: string[] = [];
    for (let i = 0; i < 60; i++) cookies.push((await new Browser(app.url).request('POST', '/count')).setCookie!);
    const admin = new Browser(app.url);
    const sweep = await admin.request('POST', '/destroy-all');
    expect(JSON.parse(sweep.text)).toEqual({ destroyed: 60 });

    const reported: string[] = [];
    let responses = 0;
    for (let answer = sweep; answer.report !== null; answer = await admin.request('GET', '/plain')) {
      expect(Buffer.byteLength(answer.report)).toBeLessThanOrEqual(MAX_HEADER_BYTES);
      reported.push(...answer.report.split(', '));
      responses++;
    }
    expect(responses).toBeGreaterThan(1);
    expect(reported.sort()).toEqual(cookies.map((c) => `${c}; ttl=0`).sort());
  });

  it('maxEntries bounds what is remembered: a session forgotten is left to the idle timeout', async () => {
    const app = await start({}, { maxEntries: 2 });
    const cookies: string[] = [];
    for (let i = 0; i < 3; i++) cookies.push((await new Browser(app.url).request('POST', '/count')).setCookie!);
    const admin = new Browser(app.url);
    const sweep = await admin.request('POST', '/destroy-all');
    // The first session was forgotten when the third came.
    expect(sweep.report?.split(', ').sort()).toEqual(cookies.slice(1).map((c) => `${c}; ttl=0`).sort());
    expect(() => handoverSessions({ maxEntries: 0 })).toThrow(TypeError);
  });

  it('a browser-session cookie (no maxAge) is reported without ttl, so the pool’s idle timeout applies', async () => {
    const app = await start({ cookie: {} });
    const alice = new Browser(app.url);
    const first = await alice.request('POST', '/count');
    expect(first.setCookie).toBeDefined();
    expect(first.report).toBe(first.setCookie);
  });

  it('saveUninitialized: true — every request gets a session and a cookie, and each is reported', async () => {
    const app = await start({ saveUninitialized: true });
    const visitor = new Browser(app.url);
    const answer = await visitor.request('GET', '/plain');
    expect(answer.setCookie).toBeDefined();
    expect(answer.report).toBe(`${answer.setCookie}; ${TTL}`);
  });

  it('a secret rotated (rolling cookie re-signed): the new cookie value is reported, the old one ended', async () => {
    const old = await start({ secret: ['old secret'] });
    const alice = new Browser(old.url);
    const first = (await alice.request('POST', '/count')).setCookie!;
    const id = await onlyId(old.store);

    // The same store behind an app whose first secret is new; rolling re-sends the cookie.
    const store = old.store;
    const rotated = express();
    rotated.use(session({ secret: ['new secret', 'old secret'], resave: false, saveUninitialized: false, rolling: true, store, cookie: { maxAge: MAX_AGE_MS } }));
    rotated.use(handoverSessions());
    rotated.get('/state', (req, res) => {
      res.json({ counter: req.session.counter ?? null });
    });
    const server = rotated.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    running.push({ url: '', store, close: () => new Promise((resolve) => server.close(() => resolve())) });
    const again = new Browser(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    again.cookie = first;
    const answer = await again.request('GET', '/state');
    expect(JSON.parse(answer.text)).toEqual({ counter: 1 });
    expect(answer.setCookie).toBe(encodeURIComponent(signedCookie(id, 'new secret')));
    expect(answer.report).toBe(`${answer.setCookie}; ${TTL}, ${first}; ttl=0`);
  });

  it('a cookie sent raw with a character the header cannot carry (",") is skipped, not mangled', async () => {
    const app = await start({ genid: () => `odd,id${Math.random().toString(36).slice(2)}` });
    const alice = new Browser(app.url);
    const first = await alice.request('POST', '/count');
    // express-session URL-encodes the cookie, so the usual case is fine…
    expect(first.setCookie).toMatch(/^s%3Aodd%2Cid/);
    expect(first.report).toBe(`${first.setCookie}; ${TTL}`);
    // …but a client that sends it decoded carries a "," the proxy would split on.
    alice.cookie = decodeURIComponent(first.setCookie!);
    const raw = await alice.request('GET', '/state');
    expect(JSON.parse(raw.text)).toEqual({ user: null, counter: 1 });
    expect(raw.report).toBeNull();
  });

  it('a head written by hand (res.writeHead(status, headers)) carries the report too', async () => {
    const app = await start();
    const alice = new Browser(app.url);
    const answer = await alice.request('POST', '/explicit-head');
    expect(answer.status).toBe(201);
    expect(answer.setCookie).toBeDefined();
    expect(answer.report).toBe(`${answer.setCookie}; ${TTL}`);
  });

  it('a quoted cookie is named as the proxy reads it (without the quotes)', async () => {
    const app = await start();
    const alice = new Browser(app.url);
    const cookie = (await alice.request('POST', '/count')).setCookie!;
    alice.cookie = `"${cookie}"`;
    const answer = await alice.request('GET', '/state');
    expect(JSON.parse(answer.text)).toEqual({ user: null, counter: 1 });
    expect(answer.report).toBe(`${cookie}; ${TTL}`);
  });

  it('keeps the app’s own X-Handover-Session line next to its report', async () => {
    const app = await start();
    const alice = new Browser(app.url);
    expect((await alice.request('GET', '/own-report')).report).toBe('its-own; ttl=5');
    const cookie = (await alice.request('POST', '/count')).setCookie!;
    expect((await alice.request('GET', '/own-report')).report).toBe(`its-own; ttl=5, ${cookie}; ${TTL}`);
  });

  it('mounted twice, it reports once', async () => {
    const store = new session.MemoryStore();
    const app = express();
    app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store, cookie: { maxAge: MAX_AGE_MS } }));
    app.use(handoverSessions({ sideChannel: false }));
    app.use(handoverSessions({ sideChannel: false }));
    app.post('/count', (req, res) => {
      req.session.counter = 1;
      res.json({});
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    running.push({ url: '', store, close: () => new Promise((resolve) => server.close(() => resolve())) });
    const answer = await new Browser(`http://127.0.0.1:${(server.address() as AddressInfo).port}`).request('POST', '/count');
    expect(answer.report).toBe(`${answer.setCookie}; ${TTL}`);
  });

  it('without handoverSessions() there is no header at all (the tests above can fail)', async () => {
    const app = await start({}, false);
    const alice = new Browser(app.url);
    expect((await alice.request('POST', '/count')).report).toBeNull();
    expect((await alice.request('POST', '/login')).report).toBeNull();
    expect((await alice.request('POST', '/logout')).report).toBeNull();
  });
});

function storeLength(store: session.MemoryStore): Promise<number> {
  return new Promise((resolve, reject) => store.length((err, n) => (err ? reject(err) : resolve(n ?? 0))));
}

async function onlyId(store: session.MemoryStore): Promise<string> {
  const all = await new Promise<Record<string, unknown>>((resolve, reject) =>
    store.all((err, sessions) => (err ? reject(err) : resolve((sessions ?? {}) as Record<string, unknown>))),
  );
  const ids = Object.keys(all);
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

/** Polls until `check` holds; fails after the deadline. */
async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
