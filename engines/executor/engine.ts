/**
 * The serial executor engine: ordered blocks in (`ordered`, from the decryptor), receipts and
 * state roots out. One engine executes every transaction in block order; `addShardedExecutor`
 * (sharded.ts) builds the same ports from a coordinator and shard engines, with the same results.
 */
import { defineEngine, type EngineDefinition } from '../../runtime/engine.ts';
import { createExecutorMachine, type ExecutorConfig } from './machine.ts';
import type { Multievaluate } from './phases.ts';
import { executorInputs, executorOutputs } from './ports.ts';

/** An executor over a VM dispatcher (the VM table is code, fixed when the node is assembled). */
export function executorEngine(
  mev: Multievaluate,
): EngineDefinition<typeof executorInputs, typeof executorOutputs, ExecutorConfig> {
  return defineEngine<typeof executorInputs, typeof executorOutputs, ExecutorConfig>({
    name: 'executor',
    inputs: executorInputs,
    outputs: executorOutputs,
    machine: createExecutorMachine(mev),
    needsStorage: true,
  });
}
