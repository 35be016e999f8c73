#!/usr/bin/env node
// `npm start -w @handover/admin`: the built console on 127.0.0.1:$HANDOVER_ADMIN_PORT (3000).
// Loads the root .env first (never overriding the real environment) so the console sees the
// same ports and secrets as the supervisor, then runs the local `next start` and passes
// Ctrl-C / SIGTERM on to it. Build first: `npm run build -w @handover/admin`.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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

const require = createRequire(path.join(appDir, 'package.json'));
const nextBin = path.join(path.dirname(require.resolve('next/package.json')), 'dist', 'bin', 'next');

const child = spawn(process.execPath, [nextBin, 'start', '--hostname', host, '--port', port], {
  cwd: appDir,
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'production' },
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
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
