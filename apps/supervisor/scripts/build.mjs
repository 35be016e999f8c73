#!/usr/bin/env node
// Builds the supervisor, the keeper and the CLI into JavaScript, dist/handover.mjs and its chunks, so
// production runs no transpiler (tsx alone costs a process about 50 MB). The workspace packages
// (@handover/*, TypeScript sources) are bundled in; every other package stays an import of
// node_modules (better-sqlite3 is native, the rest is plain JS). The state store's writer thread
// is a file of its own, copied beside it.
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
// Old chunks (their names carry a hash) would pile up.
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

const result = await build({
  entryPoints: { handover: join(root, 'src/cli/main.ts') },
  outdir: dist,
  outExtension: { '.js': '.mjs' },
  // The CLI's commands, the keeper and the supervisor load what they need by dynamic import:
  // chunks keep it that way (the keeper never loads the proxy, SQLite, tRPC or prom-client).
  splitting: true,
  chunkNames: '[name]-[hash]',
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  // Stack traces need only the mappings; with the sources embedded, Node's source-map cache kept
  // every TypeScript file in memory (about 3 MiB of the supervisor's RSS).
  sourcesContent: false,
  metafile: true,
  logLevel: 'warning',
  plugins: [
    {
      name: 'node-modules-stay-external',
      setup(context) {
        // Bare imports other than the workspace's own packages resolve from node_modules at run time.
        context.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@handover/') ? undefined : { path: args.path, external: true }));
      },
    },
  ],
});
await copyFile(join(root, 'src/state-writer.mjs'), join(dist, 'state-writer.mjs'));
await writeFile(join(dist, 'meta.json'), JSON.stringify(result.metafile));
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
const files = Object.keys(result.metafile.outputs).filter((name) => name.endsWith('.mjs')).length;
console.log(`dist/: ${Object.keys(result.metafile.inputs).length} source files into ${files} files, ${(bytes / 1024).toFixed(0)} KiB with source maps`);
