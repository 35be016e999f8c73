import { Agent, request } from 'node:http';

/** What went wrong with a request that got no usable answer. */
export type FailureKind = 'reset' | 'timeout' | 'refused' | 'other';

export interface HttpAnswer {
  status: number;
  body: string;
  setCookie: string[];
}

export class RequestFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A minimal keep-alive HTTP/1.1 client for the load generator: no fetch, no per-request
 * allocation beyond Node's own, one shared connection pool for every simulated user (so one
 * connection carries requests of sessions that live on different workers, which the proxy must
 * route one by one).
 */
export class LoadClient {
  readonly agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, scheduling: 'lifo' });

  constructor(
    readonly host: string,
    readonly port: number,
    readonly timeoutMs: number,
  ) {}

  send(method: string, path: string, cookie: string | undefined, body?: string): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (cookie !== undefined) headers.cookie = cookie;
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(body));
      } else if (method === 'POST') {
        headers['content-length'] = '0';
      }
      let settled = false;
      const fail = (kind: FailureKind, message: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new RequestFailure(kind, message));
      };
      const req = request({ host: this.host, port: this.port, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error: NodeJS.ErrnoException) => fail(kindOf(error), `${method} ${path}: response ${error.code ?? ''} ${error.message}`));
        res.on('end', () => {
          if (settled) return;
          if (!res.complete) return fail('reset', `${method} ${path}: response cut short`);
          settled = true;
          clearTimeout(timer);
          const setCookie = res.headers['set-cookie'] ?? [];
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), setCookie });
        });
      });
      const timer = setTimeout(() => {
        fail('timeout', `${method} ${path}: no answer within ${this.timeoutMs} ms`);
        req.destroy();
      }, this.timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        const reused = (req as { reusedSocket?: boolean }).reusedSocket ? ' (on a reused keep-alive connection)' : '';
        fail(kindOf(error), `${method} ${path}: ${error.code ?? ''} ${error.message}${reused}`);
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function kindOf(error: NodeJS.ErrnoException): FailureKind {
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE' || /socket hang up/i.test(error.message)) return 'reset';
  if (error.code === 'ECONNREFUSED') return 'refused';
  if (error.code === 'ETIMEDOUT') return 'timeout';
  return 'other';
}

/**
 * Applies Set-Cookie lines to a one-cookie jar: returns the new value of `name`, null when the
 * server cleared it, undefined when it did not mention it.
 */
export function cookieUpdate(setCookie: readonly string[], name: string): string | null | undefined {
  let result: string | null | undefined;
  for (const line of setCookie) {
    const [pair, ...attributes] = line.split(';');
    const eq = (pair ?? '').indexOf('=');
    if (eq < 0) continue;
    if ((pair as string).slice(0, eq).trim() !== name) continue;
    const value = (pair as string).slice(eq + 1).trim();
    const cleared =
      value === '' || attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a) || /^\s*expires\s*=.*1970/i.test(a));
    result = cleared ? null : value;
  }
  return result;
}
