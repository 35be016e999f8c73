#!/usr/bin/env node
/**
 * `npm run mutants`: a small mutation check of the test suite. Each mutant breaks one behaviour
 * the docs promise (a line changed in a copy of the committed tree, never in this checkout);
 * the tests named for it must then fail. Prints which mutants were caught and the score.
 * Bounded: every run has a timeout; the copy is removed at the end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** [what it breaks, file, text to find, replacement, workspace, test files]. */
const MUTANTS = [
  ['forwarding headers from clients believed', 'packages/proxy/src/engine/heads.ts', 'if (!trustForwarded) continue;', 'if (false) continue;', 'packages/proxy', ['test/hostile.test.ts']],
  ['request trailers kept for the next request', 'packages/proxy/src/engine/request-parser.ts', "    // Trailers arrive as a last kOnHeaders: dropped, never merged into the next request's head.\n    conn.headers = undefined;", '', 'packages/proxy', ['test/hostile.test.ts']],
  ['a request body framed with the length dropped', 'packages/proxy/src/engine/heads.ts', "  else if (length !== undefined) head += `Content-Length: ${length}\\r\\n`;", '', 'packages/proxy', ['test/hostile.test.ts']],
  ['a stale cookie sent to a dead worker', 'packages/proxy/src/passes/choose-upstream.ts', 'if (owner.routable) return owner;', 'return owner;', 'packages/proxy', ['test/routing.test.ts']],
  ['inFlight never given back', 'packages/proxy/src/engine/exchange.ts', 'upstream.lease.requestFinished();', '', 'packages/proxy', ['test/routing.test.ts']],
  ["another worker's session unbound on a rotation", 'packages/proxy/src/passes/account-response.ts', ' && sessions.peek(requestSessionId) === upstream', '', 'packages/proxy', ['test/accounting.test.ts']],
  ['a route cookie honoured without its signature', 'packages/proxy/src/passes/route-cookie.ts', '!timingSafeEqual(given, expected)', 'false', 'packages/proxy', ['test/route-cookie.test.ts']],
  ['the per-worker connection limit ignored', 'packages/proxy/src/engine/worker-queue.ts', 'return limit === 0 ||', 'return true ||', 'packages/proxy', ['test/limits.test.ts']],
  ['a detached worker stopped with a WebSocket open', 'packages/process-table/src/lease.ts', ' && this.webSocketCount <= 0', '', 'apps/supervisor', ['test/lifecycle.test.ts']],
  ['new sessions sent to a detached worker', 'packages/process-table/src/process-table.ts', "if (worker.state !== 'started') continue;", "if (worker.state === 'stopped') continue;", 'packages/process-table', ['test/table.test.ts']],
  ['a restored session a request used dropped as a phantom', 'apps/supervisor/src/restored-sessions.ts', 'if (this.usedSinceRestore(id, owner)) counts.confirmed++;', 'if (false) counts.confirmed++;', 'apps/supervisor', ['test/restored-sessions.test.ts']],
  ['the journal told of nothing the table binds', 'packages/session-table/src/session-table.ts', '    if (this.listeners.length !== 0) this.tellBound(own, owner, ttlMs);\n', '', 'packages/session-table', ['test/listener.test.ts']],
];

function copyTree() {
  const dir = mkdtempSync(join(tmpdir(), 'handover-mutants-'));
  execFileSync('bash', ['-c', `git -C ${JSON.stringify(ROOT)} archive HEAD | tar -x -C ${JSON.stringify(dir)}`]);
  // node_modules: the checkout's, except the workspace links, which point into the copy.
  mkdirSync(join(dir, 'node_modules', '@handover'), { recursive: true });
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name !== '@handover') symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name));
  }
  for (const link of readdirSync(join(ROOT, 'node_modules', '@handover'))) {
    const target = resolve(join(ROOT, 'node_modules', '@handover'), execFileSync('readlink', [join(ROOT, 'node_modules', '@handover', link)], { encoding: 'utf8' }).trim());
    symlinkSync(join(dir, target.slice(ROOT.length + 1)), join(dir, 'node_modules', '@handover', link));
  }
  return dir;
}

const dir = copyTree();
let caught = 0;
try {
  // The control: unmutated, every named test file passes in the copy (else a "catch" means nothing).
  for (const workspace of new Set(MUTANTS.map((m) => m[4]))) {
    const tests = [...new Set(MUTANTS.filter((m) => m[4] === workspace).flatMap((m) => m[5]))];
    const run = spawnSync('npx', ['vitest', 'run', ...tests], { cwd: join(dir, workspace), encoding: 'utf8', timeout: 600_000 });
    if (run.status !== 0) throw new Error(`the unmutated copy fails ${workspace} ${tests.join(' ')}:\n${run.stdout.slice(-3000)}`);
  }
  for (const [what, file, find, replace, workspace, tests] of MUTANTS) {
    const path = join(dir, file);
    const original = readFileSync(path, 'utf8');
    if (!original.includes(find)) {
      console.log(`?? ${what}: the line to mutate is gone from ${file} (update the mutant)`);
      continue;
    }
    writeFileSync(path, original.replace(find, replace));
    const run = spawnSync('npx', ['vitest', 'run', ...tests], { cwd: join(dir, workspace), encoding: 'utf8', timeout: 300_000 });
    writeFileSync(path, original);
    const killed = run.status !== 0;
    if (killed) caught++;
    console.log(`${killed ? 'caught  ' : 'SURVIVED'} ${what} (${file}; ${tests.join(', ')})`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\nmutation score: ${caught} of ${MUTANTS.length} caught`);
process.exitCode = caught === MUTANTS.length ? 0 : 1;
