/**
 * The mempool engine: envelopes from clients and peers in, the proposer's batch out. With the
 * node's storage it reads (never writes) the executor's fee accounts and nonce records for
 * admission; without it, admission checks only the pool's memory.
 */
import { defineEngine } from '../../runtime/engine.ts';
import { createMempoolMachine } from './machine.ts';
import type { MempoolConfig } from './node.ts';
import { mempoolInputs, mempoolOutputs } from './ports.ts';

export const mempoolEngine = defineEngine<typeof mempoolInputs, typeof mempoolOutputs, MempoolConfig>({
  name: 'mempool',
  inputs: mempoolInputs,
  outputs: mempoolOutputs,
  machine: createMempoolMachine,
  needsStorage: 'optional',
});
