/** The executor engine: committed blocks in, receipts and state roots out. */
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
