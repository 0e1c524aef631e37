/** The consensus engine's port messages. */

import { AppRoot, CommittedBlock } from '../../wire/ledger.ts';
import { type Infer, s } from '../../wire/schema.ts';

export { AppRoot, ValidatorUpdate } from '../../wire/ledger.ts';

const MAX_FRAME = 32 * 1024 * 1024;

/** Bytes from a peer (the network layer does not decode: consensus does, and penalises). */
export const NetIn = s.struct({ peer: s.string({ max: 128 }), bytes: s.bytes({ max: MAX_FRAME }) });
export type NetIn = Infer<typeof NetIn>;

/** Bytes for one peer, or for every peer when `to` is empty. */
export const NetOut = s.struct({ to: s.string({ max: 128 }), bytes: s.bytes({ max: MAX_FRAME }) });
export type NetOut = Infer<typeof NetOut>;

/** The mempool's batch of candidate transactions for our next proposal. */
export const TxBatch = s.list(s.bytes({ max: 64 * 1024 }), { max: 10_000 });

export const PeerPenalty = s.struct({ peer: s.string({ max: 128 }), reason: s.string({ max: 32 }) });
export type PeerPenalty = Infer<typeof PeerPenalty>;

export const consensusInputs = { net: NetIn, txs: TxBatch, appRoot: AppRoot };
export const consensusOutputs = { net: NetOut, committed: CommittedBlock, penalty: PeerPenalty };
