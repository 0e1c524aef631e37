/**
 * The sharded executor: a coordinator engine and N shard engines, wired in an engine graph, with
 * the serial executor's external ports (`ordered` in; `appRoot` and `receipts` out), the same
 * storage layout and so the same roots, receipts and notes after every block (the serial engine
 * of engine.ts remains the one-engine form; a node may use either, and switch between them
 * across restarts).
 *
 *                    ┌────shard0 (request)──> shard 0 ──reply──┐
 *   ordered ──> coordinator ──shard1──> shard 1 ──reply──────────┤──> coordinator.replies
 *                    └────shardN-1──> shard N-1 ──reply──────────┘
 *               coordinator.predicates ──> predicate runner ──> coordinator.verdicts   (optional)
 *
 * Keys are partitioned by a hash of their owner-level prefix (shards.ts); the coordinator's and
 * the shards' machines are in coordinator-machine.ts and shard-machine.ts, their messages in
 * ports.ts. With a `runner`, predicates leave the coordinator as a `PredicateBatch` and its
 * results come back through the graph (`send`), so a worker pool can evaluate them while every
 * engine stays a synchronous state machine; without one, they are evaluated inside the
 * coordinator's step (simulation: instantaneous and ordered).
 */
import { defineEngine, type EngineDefinition } from '../../runtime/engine.ts';
import type { EngineGraph, EngineHandle, InPort, OutPort } from '../../runtime/graph.ts';
import type { AppRoot, OrderedBlock } from '../../wire/ledger.ts';
import { type CoordinatorConfig, createCoordinatorMachine } from './coordinator-machine.ts';
import type { PredicateRunner } from './parallel.ts';
import { evaluateJob, type Multievaluate, type PredicateJob } from './phases.ts';
import {
  type BlockReceipts,
  type CoordinatorInputs,
  type CoordinatorOutputs,
  coordinatorInputs,
  coordinatorOutputs,
  type PredicateBatch,
  type PredicateResults,
  shardInputs,
  shardOutputs,
} from './ports.ts';
import { fromCall, toOutcome } from './predicates.ts';
import { createShardMachine, type ShardConfig } from './shard-machine.ts';

export const MAX_SHARDS = 1024;

/** The coordinator of an executor with `shards` shards (one request port per shard). */
export function coordinatorEngine(
  mev: Multievaluate,
  shards: number,
): EngineDefinition<CoordinatorInputs, CoordinatorOutputs, CoordinatorConfig> {
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS)
    throw new RangeError(`shards must be an integer in 1..${MAX_SHARDS}, got ${shards}`);
  return defineEngine<CoordinatorInputs, CoordinatorOutputs, CoordinatorConfig>({
    name: 'executor-coordinator',
    inputs: coordinatorInputs,
    outputs: coordinatorOutputs(shards),
    machine: createCoordinatorMachine(mev, shards),
    needsStorage: true,
  });
}

/** One shard of the note keyspace. */
export const shardEngine = defineEngine<typeof shardInputs, typeof shardOutputs, ShardConfig>({
  name: 'executor-shard',
  inputs: shardInputs,
  outputs: shardOutputs,
  machine: createShardMachine,
  needsStorage: true,
});

export interface ShardedExecutorOptions {
  /** Number of shard engines (1 .. MAX_SHARDS). */
  shards: number;
  /** The VM dispatcher (the VM table is code, fixed when the node is assembled). */
  mev: Multievaluate;
  /** Gas each transaction may use across its phases. */
  gasLimit: number;
  /** Evaluates predicates off the coordinator (e.g. node/predicate-pool.ts); in its step if absent. */
  runner?: PredicateRunner;
  /** Unanswered shard requests are sent again after this many ms (default 1000). */
  retryMs?: number;
}

export interface ShardedExecutor {
  /** The same external ports as the serial executor engine's. */
  readonly in: { readonly ordered: InPort<OrderedBlock> };
  readonly out: { readonly appRoot: OutPort<AppRoot>; readonly receipts: OutPort<BlockReceipts> };
  readonly coordinator: EngineHandle<CoordinatorInputs, CoordinatorOutputs>;
  readonly shards: readonly EngineHandle<typeof shardInputs, typeof shardOutputs>[];
}

/**
 * Adds a sharded executor to `graph`: the coordinator as `name`, its shards as `name-shard-i`,
 * connected; with a `runner`, the predicate round trip too. Call before `graph.start()`.
 */
export function addShardedExecutor(
  graph: EngineGraph,
  name: string,
  opts: ShardedExecutorOptions,
): ShardedExecutor {
  const coordinator = graph.add(name, coordinatorEngine(opts.mev, opts.shards), {
    gasLimit: opts.gasLimit,
    predicates: opts.runner === undefined ? 'inline' : 'port',
    retryMs: opts.retryMs ?? 1000,
  });
  const shards = Array.from({ length: opts.shards }, (_, index) => {
    const shard = graph.add(`${name}-shard-${index}`, shardEngine, { index, count: opts.shards });
    graph.connect(coordinator.out[`shard${index}`]!, shard.in.request);
    graph.connect(shard.out.reply, coordinator.in.replies);
    return shard;
  });
  const runner = opts.runner;
  if (runner !== undefined) {
    const mev = opts.mev;
    const answer = (batch: PredicateBatch, results: PredicateResults['results']) =>
      graph.send(
        coordinator.in.verdicts,
        { height: batch.height, round: batch.round, results },
        `${name}-predicates`,
      );
    graph.observe(coordinator.out.predicates).subscribe((batch) => {
      // a transaction's calls share its notes (the same arrays): one view per transaction, not
      // one per predicate
      let last: { call: PredicateBatch['calls'][number]; view: PredicateJob['view'] } | undefined;
      const jobs = batch.calls.map((call) => {
        const same =
          last !== undefined &&
          last.call.inputs === call.inputs &&
          last.call.outputs === call.outputs &&
          last.call.extradata === call.extradata;
        const job = fromCall(call, batch.height, same ? last!.view : undefined);
        last = { call, view: job.view };
        return job;
      });
      runner(jobs).then(
        (results) => answer(batch, results.map(toOutcome)),
        // a failed runner (a worker died) must not change any verdict: evaluate here instead
        () =>
          answer(
            batch,
            jobs.map((j) => toOutcome(evaluateJob(j, mev))),
          ),
      );
    });
  }
  return {
    in: { ordered: coordinator.in.ordered },
    out: { appRoot: coordinator.out.appRoot, receipts: coordinator.out.receipts },
    coordinator,
    shards,
  };
}
