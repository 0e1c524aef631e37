/** `fractal chaos`: the fault harness (node/chaos/run.ts) from the command line. */
import type { Command } from 'commander';
import { runChaos } from '../node/chaos/run.ts';
import { intArg } from './args.ts';

export function registerChaosCommand(program: Command): void {
  program
    .command('chaos')
    .description(
      'a devnet under load perturbed by a seeded schedule (kill -9, pause, two down, partitions, slow links, a full disk, replays, spam); checks agreement, exactly-once execution, first receipts, supply, fees and no double signing; exits 1 on any violation',
    )
    .option(
      '--duration <s>',
      'seconds of perturbation (300 or more runs every kind)',
      intArg('--duration', 1, 86_400),
      60,
    )
    .option(
      '--seed <n>',
      'seed of the schedule and the workload (default: random, printed)',
      intArg('--seed', 0, 2 ** 32 - 1),
    )
    .option('--validators <n>', 'validators', intArg('--validators', 4, 10), 4)
    .option('--dir <path>', 'run folder: keys, configs, node logs, databases', '.fractal/chaos')
    .option(
      '--base-port <port>',
      'validator i: p2p on base+2i, RPC on base+2i+1; the fault proxies on the ports after those',
      intArg('--base-port', 1024, 65_000),
      27_700,
    )
    .option('--rate <n>', 'honest transfers per second', intArg('--rate', 1, 1_000), 20)
    .option('--keep', 'keep the run folder after a passing run (a failing one is always kept)', false)
    .action(
      async (o: {
        duration: number;
        seed?: number;
        validators: number;
        dir: string;
        basePort: number;
        rate: number;
        keep: boolean;
      }) => {
        const seed = o.seed ?? Math.floor(Math.random() * 2 ** 32);
        try {
          const { ok } = await runChaos({ ...o, seed });
          process.exitCode = ok ? 0 : 1;
        } catch (e) {
          console.error(`chaos: error: ${(e as Error).message} (seed ${seed})`);
          process.exitCode = 1;
        }
      },
    );
}
