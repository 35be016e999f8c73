import type { Server } from 'node:net';

/**
 * Binds the server and resolves the port it got (port 0 → ephemeral); rejects on EADDRINUSE etc.
 * With `fd`, listens on that inherited socket instead (already bound by the keeper process).
 */
export function listenServer(server: Server, port: number, host: string, fd?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    };
    if (fd === undefined) server.listen(port, host, done);
    else server.listen({ fd }, done);
  });
}
