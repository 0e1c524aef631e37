/**
 * The vitest configuration `npm run mutate` (scripts/mutate.ts) gives Stryker: only the tests of
 * the target FRACTAL_MUTATE_TARGET names, run in the order `selectTests` gives (unit tests first,
 * then the property tests, at their CI seed and size), so that a mutant's killer is found early.
 */

import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { isTarget, selectTests, TARGET_NAMES } from './scripts/mutate.ts';

const target = process.env.FRACTAL_MUTATE_TARGET ?? '';
if (!isTarget(target)) {
  throw new Error(
    `FRACTAL_MUTATE_TARGET must be one of ${TARGET_NAMES.join(', ')}, got ${JSON.stringify(target)}`,
  );
}
const root = import.meta.dirname;
const TEST_TIMEOUT_MS = 30 * 60_000;
const tests = selectTests(root, target);

class TargetOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification): number => {
      const i = tests.findIndex((t) => f.moduleId.endsWith(`/${t}`));
      return i < 0 ? tests.length : i;
    };
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: tests,
    exclude: ['node_modules/**', '.fractal/**', '.scratch/**'],
    // instrumented code on a shared machine runs several times slower than in CI; a mutant that
    // hangs is ended by Stryker's own timeout (strykerConfig in scripts/mutate.ts), not by this
    testTimeout: TEST_TIMEOUT_MS,
    hookTimeout: TEST_TIMEOUT_MS,
    sequence: { sequencer: TargetOrder, shuffle: false },
  },
});
