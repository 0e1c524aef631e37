import type { Parameters } from 'fast-check';

/**
 * One place that decides how property tests run.
 * CI: a fixed seed (printed), a modest number of runs.
 * Locally: `npm run props -- --runs 10000 [--seed S]` sets FRACTAL_PROPS_RUNS / FRACTAL_PROPS_SEED.
 */
export const DEFAULT_SEED = 20261121;

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** The run count `npm run props -- --runs N` asks of every property, if any (FRACTAL_PROPS_RUNS). */
export function requestedRuns(): number | undefined {
  return envInt('FRACTAL_PROPS_RUNS');
}

/** vitest's per-test limit at CI size (vitest.config.ts), and the least a long run gets. */
export const CI_TEST_TIMEOUT_MS = 60_000;

/**
 * What one run of any property may take, generously: the slowest (pipeline ordering blindness,
 * a DKG and an encrypted pipeline per run) takes about 2 s alone, and a shared machine or
 * shrinking after a failure can take several times that.
 */
export const PER_RUN_BUDGET_MS = 10_000;

/** Node's timers take at most 2^31 - 1 ms (a larger delay fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * vitest's per-test limit when every property makes `runs` runs: the CI limit, or runs x the
 * per-run budget when that is more, so a long run is never cut off while a hang still ends.
 */
export function testTimeoutFor(runs: number | undefined): number {
  if (runs === undefined) return CI_TEST_TIMEOUT_MS;
  return Math.min(MAX_TIMER_MS, Math.max(CI_TEST_TIMEOUT_MS, runs * PER_RUN_BUDGET_MS));
}

const printed = new Set<string>();

/**
 * fast-check parameters for one property. `runs` is the CI default for this property;
 * FRACTAL_PROPS_RUNS overrides every property's run count at once.
 */
export function propParams<T>(label: string, runs: number, extra: Parameters<T> = {}): Parameters<T> {
  const seed = envInt('FRACTAL_PROPS_SEED') ?? DEFAULT_SEED;
  const numRuns = envInt('FRACTAL_PROPS_RUNS') ?? runs;
  const line = `props: ${label} seed=${seed} runs=${numRuns}`;
  if (!printed.has(line)) {
    printed.add(line);
    console.log(line);
  }
  // FRACTAL_PROPS_FIRST_FAILURE=1 (npm run planted): the first counterexample is enough, unshrunk
  const endOnFailure = process.env.FRACTAL_PROPS_FIRST_FAILURE === '1';
  return { seed, numRuns, endOnFailure, ...extra };
}
