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
  return { seed, numRuns, endOnFailure: false, ...extra };
}
