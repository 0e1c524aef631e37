/**
 * `npm run props -- [--runs N] [--seed S] [vitest filters…]`
 *
 * Runs the property tests with N runs per property (default: each property's CI count) and seed S
 * (default with --runs: a fresh random seed, printed so a failure can be replayed with --seed).
 */
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const env: NodeJS.ProcessEnv = { ...process.env };
const rest: string[] = [];
let seedGiven = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const value = args[i + 1];
  if (a === '--runs' || a === '--seed') {
    if (value === undefined || !/^\d+$/.test(value)) {
      console.error(`props: ${a} needs a non-negative integer`);
      process.exit(2);
    }
    if (a === '--runs') env.FRACTAL_PROPS_RUNS = value;
    else {
      env.FRACTAL_PROPS_SEED = value;
      seedGiven = true;
    }
    i++;
  } else rest.push(a);
}
if (!seedGiven && env.FRACTAL_PROPS_RUNS !== undefined) {
  env.FRACTAL_PROPS_SEED = String(Math.floor(Math.random() * 2 ** 31));
}
console.log(
  `props: runs=${env.FRACTAL_PROPS_RUNS ?? 'CI default'} seed=${env.FRACTAL_PROPS_SEED ?? 'CI default'}` +
    ' (replay a failure with --seed)',
);
// many runs take longer than the CI per-test timeout
const timeout = env.FRACTAL_PROPS_RUNS === undefined ? [] : ['--testTimeout=0'];
const result = spawnSync('npx', ['vitest', 'run', ...timeout, ...rest], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
