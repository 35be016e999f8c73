/**
 * Ports for tests and benches that start a server in another process (or give a port number to
 * a configuration file). A port found free here (listen on 0, close) is only a candidate: another
 * process may take it before the child binds it, and nothing can hold it across the hand-over.
 * So whatever binds such a port is started through `retryOnAddressInUse`: a start that failed
 * because the address was in use is tried again, on new ports, a bounded number of times.
 * Servers in this very process should listen on port 0 and read the port they got instead.
 *
 * Shared by the workspaces' tests, the benches and the e2e support through a relative import
 * (it is not a package). No `import.meta` or `__dirname`: Playwright loads it as CommonJS.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { type AddressInfo, type Server, createServer } from 'node:net';

/** How many starts `retryOnAddressInUse` makes before it gives up. */
export const PORT_ATTEMPTS = 5;

/**
 * `count` distinct ports nothing listened on a moment ago (all held at once while chosen, then
 * released). Candidates only: bind them under `retryOnAddressInUse`.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, () => resolve()));
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}

/** One candidate port (see `freePorts`). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return (await freePorts(1, host))[0]!;
}

/**
 * `freePorts` for code that cannot wait (Playwright evaluates its config synchronously): asks a
 * short-lived node process, which holds them all at once while it chooses them.
 */
export function freePortsSync(count: number, host = '127.0.0.1'): number[] {
  const script = `
    const { createServer } = require('node:net');
    const [count, host] = process.argv.slice(1);
    const bind = () => new Promise((resolve, reject) => { const s = createServer().once('error', reject); s.listen(0, host, () => resolve(s)); });
    Promise.all(Array.from({ length: Number(count) }, bind)).then((servers) => {
      process.stdout.write(JSON.stringify(servers.map((s) => s.address().port)));
      for (const s of servers) s.close();
    });`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script, String(count), host], { encoding: 'utf8' })) as number[];
}

/** Whether a process's output says an address was in use (Node, nginx, HAProxy, Handover's keeper). */
export function saysAddressInUse(output: string): boolean {
  return /EADDRINUSE|address already in use/i.test(output);
}

/** `error` marked as an address in use (code EADDRINUSE) when the output that came with it says so. */
export function markAddressInUse<E>(error: E, output: string): E {
  if (error instanceof Error && saysAddressInUse(output)) (error as NodeJS.ErrnoException).code = 'EADDRINUSE';
  return error;
}

/**
 * Whether a start failed because an address was in use: Node's EADDRINUSE error, or the one
 * `waitUntilReady` throws for a child that exited saying so.
 */
export function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'EADDRINUSE';
}

/**
 * Runs `start` (which chooses its ports itself, with `freePorts`) and, when it fails because a
 * port was taken meanwhile, runs it again: `attempt` counts from 1. Any other failure, and the
 * last attempt's, is thrown. `start` must leave nothing running when it throws.
 */
export async function retryOnAddressInUse<T>(start: (attempt: number) => Promise<T>, attempts = PORT_ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(attempt);
    } catch (error) {
      if (attempt >= attempts || !isAddressInUse(error)) throw error;
    }
  }
}

/** A child's stdout and stderr as they come (for the ready checks and failure messages). */
export function collectOutput(child: ChildProcess): () => string {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer | string) => (output += String(chunk)));
  child.stderr?.on('data', (chunk: Buffer | string) => (output += String(chunk)));
  return () => output;
}

/** Resolves when the child has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * After the exit: the last of its output may still be on its way; waits for its pipes to close
 * (bounded: a process it started may hold them open). At once for a child still running.
 */
export async function drained(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) return;
  if ([child.stdout, child.stderr].every((stream) => stream === null || stream.closed)) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise((resolve) => child.once('close', resolve)),
    new Promise((resolve) => (timer = setTimeout(resolve, 1_000))),
  ]);
  clearTimeout(timer);
}

export interface ReadyOptions {
  /** What is being started, for the messages. */
  what: string;
  /** Its output so far, quoted when it fails (so `isAddressInUse` can see why). */
  output: () => string;
  timeoutMs?: number;
  /** How often `ready` is asked. */
  intervalMs?: number;
}

/**
 * Waits until `ready()` says yes, polling until a deadline. Throws, quoting the child's output,
 * when it exits first or the deadline passes; stopping a child that hangs is the caller's.
 */
export async function waitUntilReady(child: ChildProcess, ready: () => boolean | Promise<boolean>, options: ReadyOptions): Promise<void> {
  const { what, output, timeoutMs = 30_000, intervalMs = 50 } = options;
  const exited = exitOf(child);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await drained(child);
      throw markAddressInUse(new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`), output());
    }
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${timeoutMs} ms:\n${output()}`);
    // Wakes early when the child exits.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, intervalMs)))]);
    clearTimeout(timer);
  }
}

/** Whether `url` answers 2xx now (the body is read and dropped). */
export async function answers(url: string, timeoutMs = 5_000): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * A server in a child process on a port chosen now: `spawn(port)` starts it, `ready(port, output)`
 * says when it serves. When it exits first saying the address was in use, it is started again on
 * another port. The output is collected only if the child's stdout/stderr are pipes.
 */
export async function startOnFreePort<T extends ChildProcess>(
  what: string,
  spawn: (port: number) => T,
  ready: (port: number, output: () => string) => boolean | Promise<boolean>,
  timeoutMs?: number,
): Promise<{ child: T; port: number; output: () => string }> {
  return retryOnAddressInUse(async () => {
    const port = await freePort();
    const child = spawn(port);
    const output = collectOutput(child);
    try {
      await waitUntilReady(child, () => ready(port, output), { what: `${what} (port ${port})`, output, timeoutMs });
    } catch (error) {
      const exited = exitOf(child);
      child.kill('SIGKILL'); // by its pid; a no-op when it has exited
      await exited;
      throw error;
    }
    return { child, port, output };
  });
}
