#!/usr/bin/env node
// `npm start -w @handover/admin`: the built console on 127.0.0.1:$HANDOVER_ADMIN_PORT (3000).
// Loads the root .env first (never overriding the real environment) so the console sees the
// same ports and secrets as the supervisor, then runs the local `next start` and passes
// Ctrl-C / SIGTERM on to it. Build first: `npm run build -w @handover/admin`.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';

const appDir = path.resolve(import.meta.dirname, '..');

function findRoot(start) {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'handover.config.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(start, '../..');
    dir = parent;
  }
}

/** Minimal .env reader (KEY=VALUE, quotes, comments); the full parser lives in @handover/config. */
function loadDotEnv(file) {
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(line);
    if (!m || line.trim().startsWith('#')) continue;
    let value = m[2].trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.lastIndexOf(quote) > 0) {
      value = value.slice(1, value.lastIndexOf(quote));
      if (quote === '"') value = value.replace(/\\([nrt"\\])/g, (_, c) => ({ n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' })[c]);
    } else {
      const hash = value.search(/\s#/);
      if (hash >= 0) value = value.slice(0, hash).trim();
    }
    if (process.env[m[1]] === undefined) process.env[m[1]] = value;
  }
}

const root = findRoot(appDir);
loadDotEnv(path.join(root, '.env'));

const port = process.env.HANDOVER_ADMIN_PORT?.trim() || '3000';
if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
  console.error(`admin console: HANDOVER_ADMIN_PORT must be a port number, got ${JSON.stringify(port)}`);
  process.exit(1);
}
const host = process.env.HANDOVER_ADMIN_HOST?.trim() || '127.0.0.1';

if (!existsSync(path.join(appDir, '.next', 'BUILD_ID'))) {
  console.error('admin console: no build found; run `npm run build -w @handover/admin` first');
  process.exit(1);
}

/**
 * Whether the port can be listened on, tried the way next will (same host and port), so a
 * second `npm start` or another program on it gets one line naming the variable that moves the
 * console, not next's EADDRINUSE stack. Resolves with the error code, or null when it is free.
 */
function portProblem() {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error) => resolve(error.code ?? String(error)));
    probe.listen({ host, port: Number(port), exclusive: true }, () => probe.close(() => resolve(null)));
  });
}

const problem = await portProblem();
if (problem === 'EADDRINUSE') {
  console.error(
    `admin console: port ${port} on ${host} is in use (another \`npm start\`, or another program). ` +
      'Stop that one, or give the console another port: HANDOVER_ADMIN_PORT in .env (HANDOVER_ADMIN_HOST for the address).',
  );
  process.exit(1);
}
if (problem !== null) {
  console.error(`admin console: cannot listen on ${host}:${port} (${problem}); set HANDOVER_ADMIN_HOST / HANDOVER_ADMIN_PORT in .env`);
  process.exit(1);
}

const require = createRequire(path.join(appDir, 'package.json'));
const nextBin = path.join(path.dirname(require.resolve('next/package.json')), 'dist', 'bin', 'next');

const child = spawn(process.execPath, [nextBin, 'start', '--hostname', host, '--port', port], {
  cwd: appDir,
  // stderr through us: see below.
  stdio: ['inherit', 'inherit', 'pipe'],
  // No telemetry notice (nor telemetry) from next: the start output is the banner's.
  env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' },
});

/**
 * next's stderr, passed on line by line, except what a stop makes of the console's open event
 * streams: once Ctrl-C (or SIGTERM) is on its way, the supervisor closes them and next reports
 * each as a "failed to pipe response" error with its stack. Those blocks (the line and the
 * indented or bracketed lines after it) are dropped then, and only then.
 */
let stopping = false;
let dropping = false;
let partial = '';
child.stderr.setEncoding('utf8');
child.stderr.on('data', (chunk) => {
  const lines = (partial + chunk).split('\n');
  partial = lines.pop() ?? '';
  for (const line of lines) passOn(line);
});
child.stderr.on('end', () => {
  if (partial !== '') passOn(partial);
  partial = '';
});

function passOn(line) {
  if (stopping && /failed to pipe response/i.test(line)) {
    dropping = true;
    return;
  }
  if (dropping && (/^\s/.test(line) || /^[}\]]/.test(line) || /^\[cause\]/.test(line) || line.trim() === '')) return;
  dropping = false;
  process.stderr.write(`${line}\n`);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}

child.on('exit', (code, signal) => {
  if (signal !== null) {
    // Exit the way the child did, so callers see the signal (after our own handlers are gone).
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
child.on('error', (error) => {
  console.error(`admin console: cannot start next: ${error.message}`);
  process.exit(1);
});
