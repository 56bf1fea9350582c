import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'examples/*/vitest.config.ts', 'test/vitest.config.ts'],
    // Integration tests start servers; two cores are shared between them.
    maxWorkers: 2,
  },
});
