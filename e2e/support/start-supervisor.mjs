#!/usr/bin/env node
// Playwright's webServer for the supervisor: writes a fresh config (revision v1) into the
// stack directory (chosen for this run), then runs the real `handover start --config …` in
// this process, so Playwright's SIGTERM reaches it once and it stops every worker on the way
// out; the directory goes with it.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, configJson] = process.argv.slice(2);
if (!dir || !configJson) {
  console.error('usage: start-supervisor.mjs <stack dir> <config json>');
  process.exit(2);
}
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const configPath = path.join(dir, 'handover.config.json');
writeFileSync(configPath, configJson);

const root = path.resolve(import.meta.dirname, '../..');
// Become `handover start --config …` in this very process: Playwright signals the process
// group, and a second process would receive SIGTERM twice (which means "kill now").
process.chdir(root);
process.argv = [process.argv[0], path.join(root, 'apps/supervisor/bin/handover.mjs'), 'start', '--config', configPath];
await import(pathToFileURL(process.argv[1]).href);
