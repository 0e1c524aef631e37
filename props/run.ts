/**
 * `npm run props -- [--runs N] [--seed S] [vitest filters…]`
 *
 * Runs the property tests with N runs per property (default: each property's CI count) and seed S
 * (default with --runs: a fresh random seed, printed so a failure can be replayed with --seed).
 * With --runs, vitest's per-test limit grows with N (`testTimeoutFor`): a long run is not cut off
 * by the CI limit, and a run that hangs still ends.
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { testTimeoutFor } from './config.ts';

export interface PropsCommand {
  /** arguments after `npx vitest run` */
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** What `npm run props -- <argv>` runs; an error message for bad arguments. */
export function propsCommand(
  argv: readonly string[],
  baseEnv: NodeJS.ProcessEnv,
  freshSeed: () => number,
): PropsCommand | { error: string } {
  const env: NodeJS.ProcessEnv = { ...baseEnv };
  const rest: string[] = [];
  let seedGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = argv[i + 1];
    if (a === '--runs' || a === '--seed') {
      if (value === undefined || !/^\d+$/.test(value))
        return { error: `props: ${a} needs a non-negative integer` };
      if (a === '--runs') env.FRACTAL_PROPS_RUNS = value;
      else {
        env.FRACTAL_PROPS_SEED = value;
        seedGiven = true;
      }
      i++;
    } else rest.push(a);
  }
  if (!seedGiven && env.FRACTAL_PROPS_RUNS !== undefined) env.FRACTAL_PROPS_SEED = String(freshSeed());
  const runs = env.FRACTAL_PROPS_RUNS === undefined ? undefined : Number(env.FRACTAL_PROPS_RUNS);
  const timeout =
    runs === undefined
      ? []
      : [`--testTimeout=${testTimeoutFor(runs)}`, `--hookTimeout=${testTimeoutFor(runs)}`];
  return { args: [...timeout, ...rest], env };
}

function main(): void {
  const command = propsCommand(process.argv.slice(2), process.env, () => Math.floor(Math.random() * 2 ** 31));
  if ('error' in command) {
    console.error(command.error);
    process.exit(2);
  }
  const { env, args } = command;
  console.log(
    `props: runs=${env.FRACTAL_PROPS_RUNS ?? 'CI default'} seed=${env.FRACTAL_PROPS_SEED ?? 'CI default'}` +
      ' (replay a failure with --seed)',
  );
  const result = spawnSync('npx', ['vitest', 'run', ...args], { stdio: 'inherit', env });
  process.exit(result.status ?? 1);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
