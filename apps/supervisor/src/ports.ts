import { createServer } from 'node:net';

/** True when nothing listens on host:port (we could bind it right now). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * The first free port from `start` up, skipping ports in use (DESIGN: base port + generation,
 * skipping ports in use). `taken` holds ports our own workers were given and may not bind yet.
 */
export async function findFreePort(
  start: number,
  taken: ReadonlySet<number> = new Set(),
  host = '127.0.0.1',
): Promise<number> {
  for (let port = start; port <= 65535; port++) {
    if (taken.has(port)) continue;
    if (await isPortFree(port, host)) return port;
  }
  throw new Error(`no free port at or above ${start}`);
}
