/**
 * The `fractal` command line. Subcommands arrive with the issues that build them; every one has
 * `--help`, and bad arguments say what to do.
 */
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { BYZANTINE_BEHAVIOURS, type ByzantineBehaviour } from '../sim/cluster.ts';
import { intArg } from './args.ts';
import { registerChaosCommand } from './chaos.ts';
import { registerIntentCommands } from './intent.ts';
import { registerNodeCommands } from './node.ts';
import { simConsensus } from './sim-consensus.ts';
import { simExample } from './sim-example.ts';
import { DEFAULT_VIZ_PORT, registerVizCommands, serveSim } from './viz.ts';

export const program = new Command();
program
  .name('fractal')
  .description('Fractal: a node for the Anoma architecture, built as an engine graph')
  .showHelpAfterError('(run with --help for usage)');

program
  .command('sim')
  .description(
    'run a consensus network (or the example graph) in the deterministic simulator and check its invariants',
  )
  .option('--nodes <n>', 'validators', intArg('--nodes', 1, 64), 4)
  .option('--byzantine <n>', 'how many validators are Byzantine', intArg('--byzantine', 0, 64), 1)
  .option(
    '--behaviour <b>',
    `what Byzantine validators do: ${BYZANTINE_BEHAVIOURS.join(' | ')}`,
    'equivocate',
  )
  .option('--heights <n>', 'heights every honest node must commit', intArg('--heights', 1, 1_000_000), 100)
  .option('--faults <level>', 'network and crash faults: none | light | heavy', 'light')
  .option(
    '--seed <n>',
    'seed fixing the whole run (default: random, printed)',
    intArg('--seed', 0, 2 ** 32 - 1),
  )
  .option('--ed25519', 'sign with ed25519 instead of the fast keyed-hash stand-in', false)
  .option(
    '--sessions',
    "carry the messages on peer sessions (the live transport's session machine over simulated connections)",
    false,
  )
  .option('--no-replay', 'skip the second run that checks the trace hash')
  .option(
    '--pipeline <txs>',
    'run the whole ordering pipeline (mempool, on-chain DKG, threshold decryption, executor) with this many client mints, half encrypted',
    intArg('--pipeline', 1, 100_000),
  )
  .option(
    '--shards <n>',
    'with --pipeline: execute on a coordinator and n shard engines',
    intArg('--shards', 1, 64),
  )
  .option('--quiet', 'no progress lines', false)
  .option(
    '--viz',
    'watch the simulation in the browser instead: serve the visualiser and print its URL',
    false,
  )
  .option(
    '--viz-port <n>',
    'with --viz: port of the page (0: any free port)',
    intArg('--viz-port', 0, 65535),
    DEFAULT_VIZ_PORT,
  )
  .option('--viz-host <host>', 'with --viz: address to listen on', '127.0.0.1')
  .option('--record <file>', 'record the run as a trace file (JSON lines) for `fractal viz open`')
  .option('--example', 'simulate the example engine graph instead (producer, two workers, collector)', false)
  .option('--jobs <n>', 'with --example: jobs the producer sends', intArg('--jobs', 1, 1_000_000), 200)
  .option(
    '--crash-job <id>',
    'with --example: crash a worker on the first attempt of this job',
    intArg('--crash-job', 0),
  )
  .action(
    async (opts: {
      nodes: number;
      byzantine: number;
      behaviour: string;
      heights: number;
      faults: string;
      seed?: number;
      ed25519: boolean;
      replay: boolean;
      quiet: boolean;
      viz: boolean;
      vizPort: number;
      vizHost: string;
      record?: string;
      example: boolean;
      jobs: number;
      crashJob?: number;
      pipeline?: number;
      shards?: number;
      sessions: boolean;
    }) => {
      const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
      if (opts.viz && opts.record !== undefined) {
        program.error('--record writes a run to a file; --viz shows one in the browser: choose one');
      }
      if (opts.example && (opts.viz || opts.record !== undefined)) {
        program.error('--viz and --record show consensus simulations, not --example');
      }
      if (opts.example) {
        const crashJob = opts.crashJob ?? (opts.jobs > 7 ? 7 : undefined);
        process.exitCode = simExample({ seed, jobs: opts.jobs, crashJob, quiet: opts.quiet });
        return;
      }
      if (!(BYZANTINE_BEHAVIOURS as readonly string[]).includes(opts.behaviour)) {
        program.error(
          `--behaviour must be one of ${BYZANTINE_BEHAVIOURS.join(', ')}, got "${opts.behaviour}"`,
        );
      }
      if (!['none', 'light', 'heavy'].includes(opts.faults)) {
        program.error(`--faults must be none, light or heavy, got "${opts.faults}"`);
      }
      if (opts.byzantine > opts.nodes) program.error('--byzantine cannot exceed --nodes');
      const options = {
        seed,
        nodes: opts.nodes,
        byzantine: opts.byzantine,
        behaviour: opts.behaviour as ByzantineBehaviour,
        heights: opts.heights,
        faults: opts.faults as 'none' | 'light' | 'heavy',
        ed25519: opts.ed25519,
        replay: opts.replay,
        quiet: opts.quiet,
        ...(opts.pipeline === undefined ? {} : { pipeline: opts.pipeline }),
        ...(opts.shards === undefined ? {} : { shards: opts.shards }),
        ...(opts.record === undefined ? {} : { record: opts.record }),
        ...(opts.sessions ? { sessions: true } : {}),
      };
      if (opts.viz) await serveSim(options, opts.vizPort, opts.vizHost);
      else process.exitCode = simConsensus(options);
    },
  );

registerNodeCommands(program);
registerIntentCommands(program);
registerChaosCommand(program);
registerVizCommands(program);

// Run when started as `tsx cli/main.ts`; bin/fractal.js parses itself, and tests import `program`.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await program.parseAsync(process.argv);
}
