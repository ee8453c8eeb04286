import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import SummaryLine from './test/support/summary-line-reporter.js';

export default defineConfig({
  resolve: {
    // Tests import the package by its public name, exactly as a user would.
    alias: { 'levitate-mm': fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/fast-check-seed.ts'],
    reporters: ['default', new SummaryLine()],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default leaves one core idle (availableParallelism - 1): on a 2-core machine the
    // suite would run on one.
    maxWorkers: availableParallelism(),
  },
});
