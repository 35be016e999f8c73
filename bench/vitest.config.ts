import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The soak test runs a real supervisor with child processes on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
