import { defineConfig } from 'vitest/config';

/** Browser tests (`npm run test:browser`): Debian's Chromium driven by playwright-core. */
export default defineConfig({
  test: {
    include: ['**/*.browser.ts'],
    exclude: ['node_modules/**', '.fractal/**', '.scratch/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
