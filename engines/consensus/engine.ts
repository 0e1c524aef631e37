/** The consensus engine: Tendermint BFT as an engine with typed ports. */
import { defineEngine } from '../../runtime/engine.ts';
import { createConsensusMachine } from './machine.ts';
import type { ConsensusConfig } from './node.ts';
import { consensusInputs, consensusOutputs } from './ports.ts';
import { roundMachine } from './round-machine.ts';

export const consensusEngine = defineEngine<typeof consensusInputs, typeof consensusOutputs, ConsensusConfig>(
  {
    name: 'consensus',
    inputs: consensusInputs,
    outputs: consensusOutputs,
    machine: createConsensusMachine,
    needsStorage: true,
    parts: { round: roundMachine },
  },
);
