/**
 * The example engine graph used by the runtime tests and by `fractal sim --example`:
 *
 *   producer.jobs ──┬──> worker-even.jobs ──┐
 *                   └──> worker-odd.jobs  ──┴──> collector.results
 *   collector.acks ────────────────────────────> producer.acks
 */
import { EngineGraph } from '../graph.ts';
import { Inspector } from '../inspect.ts';
import type { Scheduler } from '../scheduler.ts';
import { SimScheduler } from '../scheduler.ts';
import type { RestartPolicy } from '../supervision.ts';
import { collectorEngine } from './collector.ts';
import { producerEngine } from './producer.ts';
import { workerEngine } from './worker.ts';

export interface ExampleOptions {
  jobs?: number;
  /** Job id whose first attempt crashes the worker that owns it. */
  crashJob?: number;
  interval?: number;
  retryAfter?: number;
  restartPolicy?: RestartPolicy;
}

export function buildExampleGraph(
  scheduler: Scheduler,
  inspector: Inspector,
  seed: number | string,
  o: ExampleOptions = {},
  node = 'example',
): EngineGraph {
  const jobs = o.jobs ?? 20;
  const g = new EngineGraph({
    node,
    scheduler,
    inspector,
    seed,
    ...(o.restartPolicy ? { restartPolicy: o.restartPolicy } : {}),
  });
  const producer = g.add('producer', producerEngine, {
    jobs,
    interval: o.interval ?? 10,
    retryAfter: o.retryAfter ?? 100,
  });
  const crash = o.crashJob === undefined ? {} : { crashOnFirstAttemptOf: o.crashJob };
  const even = g.add('worker-even', workerEngine, { parity: 0, ...crash });
  const odd = g.add('worker-odd', workerEngine, { parity: 1, ...crash });
  const collector = g.add('collector', collectorEngine, { expected: jobs });
  g.connect(producer.out.jobs, even.in.jobs);
  g.connect(producer.out.jobs, odd.in.jobs);
  g.connect(even.out.results, collector.in.results);
  g.connect(odd.out.results, collector.in.results);
  g.connect(collector.out.acks, producer.in.acks);
  return g;
}

export interface ExampleRun {
  traceHash: string;
  virtualTime: number;
  events: number;
  completed: boolean;
  sum: bigint;
  expectedSum: bigint;
  restarts: number;
  graph: EngineGraph;
}

/** Runs the example graph to completion in simulation. */
export function runExample(seed: number | string, o: ExampleOptions = {}): ExampleRun {
  const scheduler = new SimScheduler(seed);
  const inspector = new Inspector({ trace: true });
  const graph = buildExampleGraph(scheduler, inspector, seed, o);
  graph.start();
  const collector = graph.instance('collector');
  const producer = graph.instance('producer');
  const completed = () => producer.stateString() === 'done';
  scheduler.run({ until: completed, maxTime: 600_000 });
  // let in-flight duplicates settle so the trace covers the whole run
  scheduler.run({ maxTime: scheduler.now() + 1 });
  const ctx = collector.context<{ sum: string }>();
  const values = producer.context<{ values: number[] }>().values;
  const expectedSum = values.reduce((acc, v) => acc + BigInt(v) * BigInt(v), 0n);
  return {
    traceHash: inspector.traceHash(),
    virtualTime: scheduler.now(),
    events: inspector.eventCount,
    completed: completed() && collector.stateString() === 'complete',
    sum: BigInt(ctx.sum),
    expectedSum,
    restarts: graph.engineNames().reduce((n, name) => n + graph.instance(name).restarts, 0),
    graph,
  };
}
