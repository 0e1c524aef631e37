/**
 * The solver engine: intents in (from gossip), batches out to the application's solver, solutions
 * out (to the node, which submits them). `createSolverEngine(solve)` hands in the application's
 * solver algorithm (apps/swap's batch auction, for swaps).
 */
import { defineEngine, type EngineDefinition } from '../../runtime/engine.ts';
import { createSolverMachine } from './machine.ts';
import type { SolveBatch, SolverConfig } from './pool.ts';
import { solverInputs, solverOutputs } from './ports.ts';

export function createSolverEngine(
  solve: SolveBatch,
): EngineDefinition<typeof solverInputs, typeof solverOutputs, Partial<SolverConfig>> {
  return defineEngine<typeof solverInputs, typeof solverOutputs, Partial<SolverConfig>>({
    name: 'solver',
    inputs: solverInputs,
    outputs: solverOutputs,
    machine: () => createSolverMachine(solve),
  });
}
