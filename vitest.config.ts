import { defineConfig } from 'vitest/config';
import { requestedRuns, testTimeoutFor } from './props/config.ts';

// at CI size 60 s; with FRACTAL_PROPS_RUNS (npm run props -- --runs N) scaled with the run count
const timeout = testTimeoutFor(requestedRuns());

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.fractal/**', '.scratch/**'],
    testTimeout: timeout,
    hookTimeout: timeout,
    pool: 'forks',
  },
});
