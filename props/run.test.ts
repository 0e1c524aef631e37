/** `npm run props`: seeds, run counts and a per-test time limit that grows with the run count. */
import { describe, expect, it } from 'vitest';
import config from '../vitest.config.ts';
import { CI_TEST_TIMEOUT_MS, PER_RUN_BUDGET_MS, requestedRuns, testTimeoutFor } from './config.ts';
import { propsCommand } from './run.ts';

const timeoutArg = (args: readonly string[]) => {
  const a = args.find((x) => x.startsWith('--testTimeout='));
  return a === undefined ? undefined : Number(a.slice('--testTimeout='.length));
};

describe('npm run props', () => {
  it('gives --runs N a finite limit of at least N runs of the per-run budget, and never less than CI', () => {
    for (const runs of [1, 100, 1000, 10_000]) {
      const c = propsCommand(['--runs', String(runs)], {}, () => 42);
      if ('error' in c) throw new Error(c.error);
      const limit = timeoutArg(c.args)!;
      expect(Number.isFinite(limit)).toBe(true);
      expect(limit).toBeGreaterThanOrEqual(Math.max(CI_TEST_TIMEOUT_MS, runs * PER_RUN_BUDGET_MS));
      expect(c.args).toContain(`--hookTimeout=${limit}`);
      expect(c.env.FRACTAL_PROPS_RUNS).toBe(String(runs));
      expect(c.env.FRACTAL_PROPS_SEED).toBe('42'); // fresh, since none was given
    }
    // 1000 runs of the consensus properties took 55 to 106 s each: far inside the limit
    expect(testTimeoutFor(1000)).toBeGreaterThan(10 * 106_000);
  });

  it('keeps the CI limit without --runs, and a given seed', () => {
    const c = propsCommand(['--seed', '7', 'props/consensus.test.ts'], {}, () => 42);
    if ('error' in c) throw new Error(c.error);
    expect(timeoutArg(c.args)).toBeUndefined();
    expect(c.args).toEqual(['props/consensus.test.ts']);
    expect(c.env.FRACTAL_PROPS_SEED).toBe('7');
    expect(c.env.FRACTAL_PROPS_RUNS).toBeUndefined();
    expect(testTimeoutFor(undefined)).toBe(CI_TEST_TIMEOUT_MS);
  });

  it('stays within what a timer can wait for', () => {
    expect(testTimeoutFor(10 ** 9)).toBe(2 ** 31 - 1);
  });

  it('refuses a run count or seed that is not a non-negative integer', () => {
    for (const argv of [['--runs'], ['--runs', 'many'], ['--seed', '-1']])
      expect(propsCommand(argv, {}, () => 0)).toHaveProperty('error');
  });

  it('vitest.config.ts takes its limit from the run count in the environment too', () => {
    // FRACTAL_PROPS_RUNS=1000 npx vitest run … must not time out at the CI limit either
    expect(config.test?.testTimeout).toBe(testTimeoutFor(requestedRuns()));
    expect(config.test?.hookTimeout).toBe(testTimeoutFor(requestedRuns()));
  });
});
