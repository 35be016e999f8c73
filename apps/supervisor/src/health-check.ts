import { request } from 'node:http';

/** One GET of the health path: true on any 2xx answer within `timeoutMs`. */
export function probe(port: number, path: string, timeoutMs: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

export interface WaitForHealthyOptions {
  port: number;
  path: string;
  timeoutMs: number;
  intervalMs: number;
  /** Aborted when the process exits: there is no point probing a dead worker. */
  signal: AbortSignal;
}

/**
 * Polls the worker's health path until it answers 2xx. Resolves 'ready', 'timeout', or
 * 'aborted'. Polling with a deadline is the only way to learn readiness from an arbitrary app.
 */
export async function waitForHealthy(options: WaitForHealthyOptions): Promise<'ready' | 'timeout' | 'aborted'> {
  const deadline = Date.now() + options.timeoutMs;
  while (!options.signal.aborted) {
    const left = deadline - Date.now();
    if (left <= 0) return 'timeout';
    if (await probe(options.port, options.path, Math.min(left, 2000))) {
      return options.signal.aborted ? 'aborted' : 'ready';
    }
    await delay(Math.min(options.intervalMs, Math.max(0, deadline - Date.now())), options.signal);
  }
  return 'aborted';
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
