/** Running wrk and reading its report. */
import { execFile } from 'node:child_process';

export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  /** Latency percentiles in microseconds. */
  p50Us: number;
  p99Us: number;
  errors: number;
  non2xx: number;
}

/** Parses wrk's text output (with --latency). */
export function parseWrk(output: string): WrkResult {
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(output);
    if (match === null) throw new Error(`unexpected wrk output (no ${pattern}):\n${output}`);
    return Number(match[1]);
  };
  const percentile = (p: string): number => {
    const match = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(output);
    if (match === null) throw new Error(`unexpected wrk output (no ${p}% latency):\n${output}`);
    const scale = match[2] === 'us' ? 1 : match[2] === 'ms' ? 1000 : 1_000_000;
    return Number(match[1]) * scale;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    requests: number(/(\d+) requests in/),
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/),
    p50Us: percentile('50'),
    p99Us: percentile('99'),
    errors: socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

export function runWrk(options: {
  url: string;
  connections: number;
  seconds: number;
  script: string;
  /** The core wrk is pinned to; null leaves it to the scheduler. */
  cpu: number | null;
}): Promise<WrkResult> {
  const args = [
    ...(options.cpu === null ? [] : ['taskset', '-c', String(options.cpu)]),
    'wrk',
    '-t1',
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--timeout',
    '5s',
    '--latency',
    '-s',
    options.script,
    options.url,
  ];
  return new Promise((resolve, reject) => {
    execFile(args[0]!, args.slice(1), { timeout: (options.seconds + 30) * 1000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`wrk failed: ${error.message}\n${stderr}`));
      try {
        resolve(parseWrk(stdout));
      } catch (parseError) {
        reject(parseError);
      }
    });
  });
}
