/** The consensus engine's port messages. */
import { type Infer, s } from '../../wire/schema.ts';
import { CommittedBlock, Hash } from './messages.ts';

const MAX_FRAME = 32 * 1024 * 1024;

/** Bytes from a peer (the network layer does not decode: consensus does, and penalises). */
export const NetIn = s.struct({ peer: s.string({ max: 128 }), bytes: s.bytes({ max: MAX_FRAME }) });
export type NetIn = Infer<typeof NetIn>;

/** Bytes for one peer, or for every peer when `to` is empty. */
export const NetOut = s.struct({ to: s.string({ max: 128 }), bytes: s.bytes({ max: MAX_FRAME }) });
export type NetOut = Infer<typeof NetOut>;

/** The mempool's batch of candidate transactions for our next proposal. */
export const TxBatch = s.list(s.bytes({ max: 64 * 1024 }), { max: 10_000 });

/** A change of one validator's power (0 removes it), decided by the application. */
export const ValidatorUpdate = s.struct({ publicKey: s.bytes({ length: 32 }), power: s.u64() });
export type ValidatorUpdate = Infer<typeof ValidatorUpdate>;

/**
 * The application's state root after executing a height, and the validator updates that height
 * decided; they take effect two heights later (height + 2), as in CometBFT, so the set of the next
 * height is always known before it starts.
 */
export const AppRoot = s.struct({
  height: s.u64(),
  root: Hash,
  validatorUpdates: s.list(ValidatorUpdate, { max: 1_000 }),
});
export type AppRoot = Infer<typeof AppRoot>;

export const PeerPenalty = s.struct({ peer: s.string({ max: 128 }), reason: s.string({ max: 32 }) });
export type PeerPenalty = Infer<typeof PeerPenalty>;

export const consensusInputs = { net: NetIn, txs: TxBatch, appRoot: AppRoot };
export const consensusOutputs = { net: NetOut, committed: CommittedBlock, penalty: PeerPenalty };
