/** The decryptor engine: committed blocks in, executable transactions (decrypted in committed order) out. */
import { defineEngine } from '../../runtime/engine.ts';
import { createDecryptorMachine } from './machine.ts';
import type { DecryptorConfig } from './pipeline.ts';
import { decryptorInputs, decryptorOutputs } from './ports.ts';

export const decryptorEngine = defineEngine<typeof decryptorInputs, typeof decryptorOutputs, DecryptorConfig>(
  {
    name: 'decryptor',
    inputs: decryptorInputs,
    outputs: decryptorOutputs,
    machine: createDecryptorMachine,
    needsStorage: true,
  },
);
