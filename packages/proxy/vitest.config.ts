import { defineConfig } from 'vitest/config';

// The whole suite runs against both engines: the lean one (createProxy) and the node:http one.
export default defineConfig({
  test: {
    projects: [
      { extends: true, test: { name: 'lean', env: { HANDOVER_PROXY_ENGINE: 'lean' } } },
      {
        extends: true,
        // What only the lean engine can do is not asked of the node:http one.
        test: { name: 'legacy', env: { HANDOVER_PROXY_ENGINE: 'legacy' }, exclude: ['test/lean-engine.test.ts', 'node_modules/**'] },
      },
    ],
  },
});
