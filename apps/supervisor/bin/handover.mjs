#!/usr/bin/env node
// The `handover` CLI. Runs the compiled build (dist/handover.mjs, `npm run build`) when it is
// at least as new as every source file it was built from; otherwise (a checkout being worked
// on, or never built) the TypeScript sources through tsx.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const compiled = join(root, 'dist', 'handover.mjs');

function buildIsCurrent() {
  if (process.env.HANDOVER_FROM_SOURCE === '1' || !existsSync(compiled)) return false;
  try {
    const builtAt = statSync(compiled).mtimeMs;
    const inputs = Object.keys(JSON.parse(readFileSync(join(root, 'dist', 'meta.json'), 'utf8')).inputs);
    return inputs.every((input) => statSync(join(root, input)).mtimeMs <= builtAt);
  } catch {
    return false; // a source file moved or the metadata is missing: build again
  }
}

if (buildIsCurrent()) {
  process.setSourceMapsEnabled(true);
  await import(compiled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
