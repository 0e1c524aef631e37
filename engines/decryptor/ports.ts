/** The decryptor engine's port messages. */
import { CommittedBlock, OrderedBlock } from '../../wire/ledger.ts';
import { s } from '../../wire/schema.ts';
import { EpochKey } from './messages.ts';

/**
 * A signed envelope (wire/envelope.ts) this validator submits to its mempool (its deal, complaints,
 * shares); `id` names it for the mempool's reply.
 */
export const Submission = s.struct({ id: s.string({ max: 64 }), bytes: s.bytes({ max: 1024 * 1024 }) });

export const decryptorInputs = { committed: CommittedBlock };
export const decryptorOutputs = { ordered: OrderedBlock, submit: Submission, epochKey: EpochKey };
