/**
 * The proxy's child process (host.ts) seen from the fuzzer: start, counters, /healthz, liveness,
 * stop. Only this process's own child is ever signalled, by its pid.
 */
import { type ChildProcess, fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface HostState {
  inFlight: number;
  webSockets: number;
  errors: string[];
}

export class ProxyHost {
  port = 0;
  debugPort = 0;
  exit: string | undefined;
  /** Exited and its stdio closed. */
  closed = false;
  stderr = '';
  private constructor(readonly child: ChildProcess) {}

  static start(workerPort: number): Promise<ProxyHost> {
    const child = fork(path.join(here, 'host.ts'), [String(workerPort)], {
      cwd: path.join(here, '..'),
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const host = new ProxyHost(child);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      host.stderr = (host.stderr + text).slice(-8000);
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`proxy host did not start: ${host.stderr}`)), 20_000);
      child.once('message', (m: { port: number; debugPort: number }) => {
        clearTimeout(timer);
        host.port = m.port;
        host.debugPort = m.debugPort;
        resolve(host);
      });
      child.once('exit', (code, signal) => {
        host.exit = `exit code ${code}${signal ? ` signal ${signal}` : ''}`;
        clearTimeout(timer);
        reject(new Error(`proxy host exited at start: ${host.stderr}`));
      });
    }).then(() => {
      child.removeAllListeners('exit');
      child.on('exit', (code, signal) => {
        host.exit = `exit code ${code}${signal ? ` signal ${signal}` : ''}`;
      });
      child.on('close', () => {
        host.closed = true;
      });
      return host;
    });
  }

  /** Whether the process is gone within the deadline (its stderr then complete): a death just noticed. */
  exited(deadlineMs = 3000): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), deadlineMs);
      this.child.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  alive(): boolean {
    if (this.exit !== undefined || this.child.pid === undefined) return false;
    try {
      process.kill(this.child.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** The first lines of the crash (the error and the top frames). */
  crashSummary(): string {
    const lines = this.stderr.split('\n').filter((l) => l.trim() !== '');
    const at = lines.findIndex((l) => /Error|error:/.test(l));
    return lines.slice(Math.max(0, at), Math.max(0, at) + 4).map((l) => l.trim()).join(' | ') || this.exit || 'unknown';
  }

  private get(port: number, pathname: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: pathname, agent: false, timeout: 3000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  }

  async state(): Promise<HostState> {
    return JSON.parse((await this.get(this.debugPort, '/state')).body) as HostState;
  }

  async healthz(): Promise<boolean> {
    try {
      const r = await this.get(this.port, '/healthz');
      return r.status === 200 && r.body === 'ok\n';
    } catch {
      return false;
    }
  }

  /** Polls until the upstream's counters are back to 0, or the deadline; returns the last state. */
  async quiet(deadlineMs = 6000): Promise<HostState> {
    const until = Date.now() + deadlineMs;
    const errors: string[] = [];
    for (;;) {
      const s = await this.state();
      errors.push(...s.errors);
      if ((s.inFlight === 0 && s.webSockets === 0) || Date.now() > until) return { ...s, errors };
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  stop(): Promise<void> {
    if (!this.alive()) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}
