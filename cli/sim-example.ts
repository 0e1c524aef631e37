/**
 * `fractal sim --example`: runs the example engine graph in the deterministic simulator, prints
 * progress and the invariant checks, replays the seed to check determinism, and prints the
 * command that reproduces the run.
 */
import { buildExampleGraph } from '../runtime/example/graph.ts';
import { Inspector } from '../runtime/inspect.ts';
import { SimScheduler } from '../runtime/scheduler.ts';

export interface SimExampleOptions {
  seed: number;
  jobs: number;
  crashJob: number | undefined;
  quiet: boolean;
}

interface Outcome {
  traceHash: string;
  virtualTime: number;
  events: number;
  acknowledged: number;
  completed: boolean;
  sum: bigint;
  expectedSum: bigint;
  restarts: number;
  crashes: number;
}

function once(o: SimExampleOptions, progress: ((done: number, t: number) => void) | undefined): Outcome {
  const scheduler = new SimScheduler(o.seed);
  const inspector = new Inspector({ trace: true });
  let crashes = 0;
  inspector.events$.subscribe((e) => {
    if (e.kind === 'crash') crashes++;
  });
  const graph = buildExampleGraph(scheduler, inspector, o.seed, {
    jobs: o.jobs,
    ...(o.crashJob === undefined ? {} : { crashJob: o.crashJob }),
  });
  graph.start();
  const producer = graph.instance('producer');
  const collector = graph.instance('collector');
  const acked = () => producer.context<{ ackedCount: number }>().ackedCount;
  let reported = -1;
  const step = Math.max(1, Math.ceil(o.jobs / 10));
  for (;;) {
    const why = scheduler.run({
      until: () => producer.stateString() === 'done',
      maxSteps: 2_000,
      maxTime: 3_600_000,
    });
    const n = acked();
    if (progress !== undefined && n >= reported + step) {
      reported = n;
      progress(n, scheduler.now());
    }
    if (why !== 'steps') break;
  }
  const producerCtx = producer.context<{ values: number[]; ackedCount: number }>();
  const collectorCtx = collector.context<{ sum: string }>();
  return {
    traceHash: inspector.traceHash(),
    virtualTime: scheduler.now(),
    events: inspector.eventCount,
    acknowledged: producerCtx.ackedCount,
    completed: producer.stateString() === 'done' && collector.stateString() === 'complete',
    sum: BigInt(collectorCtx.sum),
    expectedSum: producerCtx.values.reduce((a, v) => a + BigInt(v) * BigInt(v), 0n),
    restarts: graph.engineNames().reduce((n, name) => n + graph.instance(name).restarts, 0),
    crashes,
  };
}

export function replayCommand(o: SimExampleOptions): string {
  return `npm run fractal -- sim --example --seed ${o.seed} --jobs ${o.jobs}${o.crashJob === undefined ? '' : ` --crash-job ${o.crashJob}`}`;
}

/** Returns the process exit code. */
export function simExample(o: SimExampleOptions, out: (line: string) => void = console.log): number {
  out(
    `fractal sim: example engine graph (producer -> 2 workers -> collector), seed ${o.seed}, ${o.jobs} jobs` +
      (o.crashJob === undefined ? '' : `, worker crash planned on job ${o.crashJob}`),
  );
  const started = performance.now();
  const first = once(
    o,
    o.quiet
      ? undefined
      : (done, t) => out(`  progress ${done}/${o.jobs} jobs acknowledged (virtual t=${t} ms)`),
  );
  const replay = once(o, undefined);
  const checks: [string, boolean][] = [
    [`every job acknowledged and collected (${first.acknowledged}/${o.jobs})`, first.completed],
    [`collector's sum of squares equals the producer's (${first.sum})`, first.sum === first.expectedSum],
    [
      `every crash was followed by a restart (${first.crashes} crashes, ${first.restarts} restarts)`,
      first.crashes === first.restarts,
    ],
    ['replaying the seed gives the same trace hash', replay.traceHash === first.traceHash],
  ];
  out('invariants:');
  for (const [label, ok] of checks) out(`  ${ok ? 'ok  ' : 'FAIL'} ${label}`);
  const wall = (performance.now() - started) / 1000;
  out(
    `virtual time ${first.virtualTime} ms, ${first.events} inspection events, wall ${wall.toFixed(2)} s (two runs)`,
  );
  out(`trace hash ${first.traceHash}`);
  const failed = checks.filter(([, ok]) => !ok).length;
  if (failed > 0) {
    out(`${failed} invariant(s) failed; replay with: ${replayCommand(o)}`);
    return 1;
  }
  out(`replay with: ${replayCommand(o)}`);
  return 0;
}
