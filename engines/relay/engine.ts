/**
 * The relay engine: observations of two instances in, transactions to build and submit out, their
 * results back in. `createRelayEngine(planner)` hands in the application's planner (apps/ibc
 * `planChannel` over its end reports); the environment (node or simulator) observes the ends,
 * builds the transactions with their proofs, and submits them.
 */
import { defineEngine, type EngineDefinition } from '../../runtime/engine.ts';
import type { RelayConfig, RelayPlanner } from './core.ts';
import { createRelayMachine } from './machine.ts';
import { relayInputs, relayOutputs } from './ports.ts';

export function createRelayEngine(
  planner: RelayPlanner,
): EngineDefinition<typeof relayInputs, typeof relayOutputs, Partial<RelayConfig>> {
  return defineEngine<typeof relayInputs, typeof relayOutputs, Partial<RelayConfig>>({
    name: 'relay',
    inputs: relayInputs,
    outputs: relayOutputs,
    machine: () => createRelayMachine(planner),
  });
}
