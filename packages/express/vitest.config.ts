import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Real sockets: generous limits on a busy 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
