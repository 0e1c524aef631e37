/**
 * The `fractal` command line. Subcommands arrive with the issues that build them; every one has
 * `--help`, and bad arguments say what to do.
 */
import { Command, InvalidArgumentError } from 'commander';
import { simExample } from './sim-example.ts';

function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
    }
    return n;
  };
}

const program = new Command();
program
  .name('fractal')
  .description('Fractal: a node for the Anoma architecture, built as an engine graph')
  .showHelpAfterError('(run with --help for usage)');

program
  .command('sim')
  .description('run an engine graph in the deterministic simulator and check its invariants')
  .option('--example', 'simulate the example engine graph (producer, two workers, collector)', true)
  .option(
    '--seed <n>',
    'seed fixing the whole run (default: random, printed)',
    intArg('--seed', 0, 2 ** 32 - 1),
  )
  .option('--jobs <n>', 'jobs the producer sends', intArg('--jobs', 1, 1_000_000), 200)
  .option(
    '--crash-job <id>',
    'make a worker crash on the first attempt of this job',
    intArg('--crash-job', 0),
  )
  .option('--quiet', 'no progress lines', false)
  .action((opts: { seed?: number; jobs: number; crashJob?: number; quiet: boolean }) => {
    const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
    const crashJob = opts.crashJob ?? (opts.jobs > 7 ? 7 : undefined);
    process.exitCode = simExample({ seed, jobs: opts.jobs, crashJob, quiet: opts.quiet });
  });

await program.parseAsync(process.argv);
