/**
 * A WebSocket chat app (cookie sessions in memory, a chat socket that needs the session, no
 * Handover reporting) through `handover`'s proxy, the Z2 story: Handover's session count is
 * checked against the app's own (GET /sessions on the worker) at every step. An open socket
 * keeps its session and its detached worker; a logout that clears the cookie moves the user and
 * lets the old worker stop at once; stopping Handover gives clients the app's 1001. And the limit
 * of cookie accounting for such apps: a silent socket outlives the app's own session.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Client, FIXTURES, TestSupervisor, waitFor } from './harness';

const APP = join(FIXTURES, 'ws-chat-app.mjs');
/** The app's idle expiry and Handover's, the same (any number of seconds > 0 is allowed). */
const IDLE_SECONDS = 2;
const IDLE_MS = IDLE_SECONDS * 1000;
/** Every wait has a deadline, generous for a loaded 2-core machine. */
const DEADLINE_MS = 20_000;

/** Cookie accounting only: no `sessionReports`, the app sends no X-Handover-Session. */
function chatPool(revision: string, env: Record<string, string> = {}) {
  return {
    command: `node ${JSON.stringify(APP)}`,
    sessionCookie: 'chat.sid',
    idleTimeoutSeconds: IDLE_SECONDS,
    env: { CHAT_IDLE_SECONDS: String(IDLE_SECONDS), ...env },
    revision,
  };
}

/** The app's own count of live sessions, asked on the worker's port (not through the proxy). */
async function appCount(harness: TestSupervisor, worker: string): Promise<number> {
  const answer = await fetch(`http://127.0.0.1:${harness.worker(worker).port}/sessions`);
  return ((await answer.json()) as { sessions: number }).sessions;
}

/** Handover's count and the app's, for these workers. */
async function counts(harness: TestSupervisor, ...workers: string[]) {
  return {
    handover: workers.map((id) => harness.worker(id).sessions),
    app: await Promise.all(workers.map((id) => appCount(harness, id))),
  };
}

interface Line {
  from: string;
  text: string;
  count: number;
  worker: string;
}

/** A chat socket opened through the proxy with a client's cookies, as a browser page would. */
class Chat {
  readonly inbox: Line[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  closedWith: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.inbox.push(JSON.parse(data.toString()) as Line));
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString() };
        resolve(this.closedWith);
      }),
    );
  }

  /** Opens /chat; resolves with the socket, or with the HTTP status the upgrade was refused with. */
  static open(harness: TestSupervisor, client: Client): Promise<Chat | { refused: number }> {
    const cookie = [...client.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const ws = new WebSocket(`ws://127.0.0.1:${harness.proxyPort}/chat`, { headers: cookie ? { cookie } : {} });
    const chat = new Chat(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(chat));
      ws.once('error', (error) => {
        const status = /Unexpected server response: (\d+)/.exec(error.message);
        if (status) resolve({ refused: Number(status[1]) });
        else reject(error);
      });
    });
  }

  static async connect(harness: TestSupervisor, client: Client): Promise<Chat> {
    const chat = await Chat.open(harness, client);
    if (!(chat instanceof Chat)) throw new Error(`chat refused with ${chat.refused}`);
    return chat;
  }

  /** Sends a line and resolves with its echo (the app broadcasts it back to this socket too). */
  async say(text: string): Promise<Line> {
    this.ws.send(text);
    return waitFor(
      () => {
        const echo = this.inbox.find((line) => line.text === text);
        if (echo === undefined && this.closedWith !== undefined) throw new Error(`the socket closed (${JSON.stringify(this.closedWith)}) before the echo of "${text}"`);
        return echo;
      },
      DEADLINE_MS,
      `the echo of "${text}"`,
    );
  }
}

describe('a WebSocket chat app with cookie sessions (no reporting)', () => {
  it('Z2: an open socket keeps its session on the detached worker past the idle timeout; a logout moves the user and the old worker stops at once', async () => {
    await using harness = await TestSupervisor.launch(chatPool('v1'));

    // 1. Alice logs in on web@0 and opens the chat. Without the cookie the socket is refused.
    const alice = new Client(harness.proxyUrl);
    expect((await Chat.open(harness, alice)) as { refused: number }).toEqual({ refused: 401 });
    expect((await alice.post('/login', '{"name":"alice"}')).json).toMatchObject({ worker: 'web@0', revision: 'v1', user: 'alice' });
    expect(alice.cookies.get('chat.sid')).toMatch(/^[\w-]{24}$/);
    // Handover's route cookie rides along (the fallback if its table ever lost the binding).
    expect([...alice.cookies.keys()].sort()).toEqual(['chat.sid', 'handover_route']);
    await using aliceChat = disposable(await Chat.connect(harness, alice));
    expect(await aliceChat.say('hello')).toMatchObject({ from: 'alice', worker: 'web@0', count: 1 });
    expect(harness.worker('web@0')).toMatchObject({ state: 'started', sessions: 1, webSockets: 1 });
    expect(await counts(harness, 'web@0')).toEqual({ handover: [1], app: [1] });

    // 2. Detach and sync: web@1 (v2) takes new sessions, web@0 keeps Alice's.
    await harness.writeConfig(chatPool('v2'));
    await harness.supervisor.detachAndSync('web@0', 'operator');
    const bob = new Client(harness.proxyUrl);
    expect((await bob.post('/login', '{"name":"bob"}')).json).toMatchObject({ worker: 'web@1', revision: 'v2', user: 'bob' });
    await using bobChat = disposable(await Chat.connect(harness, bob));
    expect(await bobChat.say('hi from bob')).toMatchObject({ from: 'bob', worker: 'web@1', count: 1 });
    expect(await aliceChat.say('still here')).toMatchObject({ from: 'alice', worker: 'web@0', count: 2 });
    expect((await alice.get('/state')).json).toEqual({ worker: 'web@0', revision: 'v1', user: 'alice', messages: 2 });
    const aliceLastRequestAt = Date.now();
    expect(harness.worker('web@0')).toMatchObject({ state: 'detached', webSockets: 1 });
    expect(await counts(harness, 'web@0', 'web@1')).toEqual({ handover: [1, 1], app: [1, 1] });

    // 3. Both chat only over their sockets (no HTTP request) for longer than the idle timeout.
    //    Not a sleep: the conversation goes on until the clock is past the timeout by a margin.
    let aliceCount = 2;
    let bobCount = 1;
    let round = 0;
    await waitFor(
      async () => {
        round++;
        aliceCount = (await aliceChat.say(`alice ${round}`)).count;
        bobCount = (await bobChat.say(`bob ${round}`)).count;
        // At every turn: web@0 is still there, holding Alice's session.
        expect(harness.worker('web@0')).toMatchObject({ state: 'detached', sessions: 1, webSockets: 1 });
        return Date.now() > aliceLastRequestAt + IDLE_MS + 1500;
      },
      DEADLINE_MS + IDLE_MS,
      'a conversation longer than the idle timeout',
    );
    expect(Date.now() - aliceLastRequestAt).toBeGreaterThan(IDLE_MS);
    expect(aliceCount).toBe(round + 2);
    // The app kept her session alive (socket activity), Handover kept it bound (socket open).
    expect((await alice.get('/state')).json).toEqual({ worker: 'web@0', revision: 'v1', user: 'alice', messages: aliceCount });
    expect((await bob.get('/state')).json).toEqual({ worker: 'web@1', revision: 'v2', user: 'bob', messages: bobCount });
    expect(await counts(harness, 'web@0', 'web@1')).toEqual({ handover: [1, 1], app: [1, 1] });

    // 4. Alice logs out: the app clears the cookie and closes her socket (4000). The clear is
    //    accounted with the response itself, not at an idle timeout.
    const loggedOutAt = Date.now();
    const logout = await alice.post('/logout');
    expect(harness.worker('web@0').sessions).toBe(0);
    expect(logout.json).toEqual({ worker: 'web@0', loggedOut: true, sessions: 0 });
    expect(logout.headers.getSetCookie()).toContainEqual(expect.stringMatching(/^chat\.sid=; Max-Age=0; Path=\//));
    // Both cookies gone: the app's, and Handover's route cookie with the session it named.
    expect([...alice.cookies.keys()]).toEqual([]);
    expect(await aliceChat.closed).toEqual({ code: 4000, reason: 'logged out' });
    // Her next page load lands on the new revision, logged out.
    expect((await alice.get('/state')).json).toEqual({ worker: 'web@1', revision: 'v2', user: null, messages: 0 });
    // Nothing holds web@0 any more: it stops by itself.
    const stopped = await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0', DEADLINE_MS);
    const drained = harness.events.find((e) => e.type === 'worker.drained' && e.worker === 'web@0');
    expect(drained).toBeDefined();
    expect(harness.worker('web@0')).toMatchObject({ state: 'stopped', sessions: 0, webSockets: 0 });
    expect(await counts(harness, 'web@1')).toEqual({ handover: [1], app: [1] });
    expect(await bobChat.say('bob goes on')).toMatchObject({ worker: 'web@1', count: bobCount + 1 });
    console.info(
      `[websocket-sessions] Z2: ${round} rounds over ${Date.now() - aliceLastRequestAt} ms of socket-only chat (idle timeout ${IDLE_MS} ms);` +
        ` logout → web@0 stopped in ${Date.parse(stopped.at) - loggedOutAt} ms`,
    );
  });

  it('stopping Handover with sockets open on a detached and a new worker: clients get the app’s 1001, not 1006', async () => {
    await using harness = await TestSupervisor.launch(chatPool('v1'));
    const alice = new Client(harness.proxyUrl);
    await alice.post('/login', '{"name":"alice"}');
    const aliceChat = await Chat.connect(harness, alice);
    await harness.writeConfig(chatPool('v2'));
    await harness.supervisor.detachAndSync('web@0', 'operator');
    const bob = new Client(harness.proxyUrl);
    await bob.post('/login', '{"name":"bob"}');
    const bobChat = await Chat.connect(harness, bob);
    expect([(await aliceChat.say('a')).worker, (await bobChat.say('b')).worker]).toEqual(['web@0', 'web@1']);

    await harness.running.stop(2_000);
    expect(await Promise.all([aliceChat.closed, bobChat.closed])).toEqual([
      { code: 1001, reason: 'going away' },
      { code: 1001, reason: 'going away' },
    ]);
  });

  it('the limit: a silent socket outlives the app’s own session; Handover counts it until the socket closes and one idle timeout more', async () => {
    await using harness = await TestSupervisor.launch(chatPool('v1'));
    const carol = new Client(harness.proxyUrl);
    await carol.post('/login', '{"name":"carol"}');
    await using carolChat = disposable(await Chat.connect(harness, carol));
    expect(await carolChat.say('hi')).toMatchObject({ worker: 'web@0', count: 1 });
    await harness.writeConfig(chatPool('v2'));
    await harness.supervisor.detachAndSync('web@0', 'operator');

    // Carol's page stays open, her socket silent: the app expires her session after its idle
    // time. Handover cannot see that (no Set-Cookie, no request), and keeps an open socket's
    // session bound: the counts disagree for as long as the socket stays open.
    await waitFor(async () => (await appCount(harness, 'web@0')) === 0, DEADLINE_MS + IDLE_MS, 'the app to expire Carol’s session');
    expect(await counts(harness, 'web@0')).toEqual({ handover: [1], app: [0] });
    expect(harness.worker('web@0')).toMatchObject({ state: 'detached', webSockets: 1 });
    // Her page load still goes to web@0, where she is logged out (as she would be without Handover).
    expect((await carol.get('/state')).json).toEqual({ worker: 'web@0', revision: 'v1', user: null, messages: 0 });

    // Her next message: the app closes the socket (4001). Handover's idle clock for the session
    // starts again only now, so web@0 drains one idle timeout later, not at once.
    carolChat.ws.send('anyone?');
    expect(await carolChat.closed).toEqual({ code: 4001, reason: 'session expired' });
    const closedAt = Date.now();
    await waitFor(() => harness.worker('web@0').webSockets === 0, DEADLINE_MS, 'the tunnel to close');
    const stopped = await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0', DEADLINE_MS + IDLE_MS);
    const lateBy = Date.parse(stopped.at) - closedAt;
    // A lower bound only (a slow machine makes it later, never earlier): it waited for the timeout.
    expect(lateBy).toBeGreaterThanOrEqual(IDLE_MS - 250);
    console.info(`[websocket-sessions] limit: web@0 stopped ${lateBy} ms after Carol's socket closed (idle timeout ${IDLE_MS} ms)`);
  });

  it('the remedy: an app that reports its own expiry by the side channel keeps the counts equal, and the worker stops as soon as the socket closes', async () => {
    const reporting = { CHAT_REPORT_EXPIRY: '1' };
    await using harness = await TestSupervisor.launch(chatPool('v1', reporting));
    const carol = new Client(harness.proxyUrl);
    await carol.post('/login', '{"name":"carol"}');
    await using carolChat = disposable(await Chat.connect(harness, carol));
    expect(await carolChat.say('hi')).toMatchObject({ worker: 'web@0', count: 1 });
    await harness.writeConfig(chatPool('v2', reporting));
    await harness.supervisor.detachAndSync('web@0', 'operator');

    // The app expires the silent socket's session and says so (POST "<id>; ttl=0"): Handover
    // unbinds it even though the socket is open. The socket alone still holds the worker.
    await waitFor(async () => (await appCount(harness, 'web@0')) === 0, DEADLINE_MS + IDLE_MS, 'the app to expire Carol’s session');
    await waitFor(() => harness.worker('web@0').sessions === 0, DEADLINE_MS, 'the report to unbind it');
    expect(await counts(harness, 'web@0', 'web@1')).toEqual({ handover: [0, 0], app: [0, 0] });
    expect(harness.worker('web@0')).toMatchObject({ state: 'detached', webSockets: 1 });
    // Her page load goes to the new revision now (logged out there too), and binds nothing.
    expect((await carol.get('/state')).json).toEqual({ worker: 'web@1', revision: 'v2', user: null, messages: 0 });
    expect(await counts(harness, 'web@1')).toEqual({ handover: [0], app: [0] });

    carolChat.ws.send('anyone?');
    expect(await carolChat.closed).toEqual({ code: 4001, reason: 'session expired' });
    const closedAt = Date.now();
    const stopped = await harness.waitForEvent((e) => e.type === 'worker.stopped' && e.worker === 'web@0', DEADLINE_MS);
    expect(harness.events.find((e) => e.type === 'worker.drained' && e.worker === 'web@0')).toBeDefined();
    console.info(`[websocket-sessions] remedy: web@0 stopped ${Date.parse(stopped.at) - closedAt} ms after Carol's socket closed`);
  });
});

/** Closes the socket when the test ends, whatever happened. */
function disposable(chat: Chat): Chat & AsyncDisposable {
  return Object.assign(chat, {
    async [Symbol.asyncDispose]() {
      if (chat.ws.readyState === WebSocket.OPEN || chat.ws.readyState === WebSocket.CONNECTING) chat.ws.terminate();
    },
  });
}
