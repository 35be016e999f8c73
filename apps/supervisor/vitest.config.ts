import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Real child processes and sockets: generous limits on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
