/**
 * Port messages several engines share: peer traffic, peer penalties and the proposer's batch.
 * Engines never import each other, so shared port types live here; the graph connects only ports
 * of equal wire types.
 */
import { MAX_TX_BYTES, MAX_TXS_PER_BLOCK } from './ledger.ts';
import { type Infer, s } from './schema.ts';

export const MAX_FRAME = 32 * 1024 * 1024;

/** Bytes from a peer (the network layer does not decode: the engine does, and penalises). */
export const NetIn = s.struct({ peer: s.string({ max: 128 }), bytes: s.bytes({ max: MAX_FRAME }) });
export type NetIn = Infer<typeof NetIn>;

/** Bytes for one peer, or for every peer when `to` is empty. */
export const NetOut = s.struct({ to: s.string({ max: 128 }), bytes: s.bytes({ max: MAX_FRAME }) });
export type NetOut = Infer<typeof NetOut>;

/** A peer misbehaved: what the network layer scores and, past a limit, disconnects. */
export const PeerPenalty = s.struct({ peer: s.string({ max: 128 }), reason: s.string({ max: 32 }) });
export type PeerPenalty = Infer<typeof PeerPenalty>;

/** The mempool's candidate transactions (encoded SignedEnvelopes) in priority order, for the next proposal. */
export const TxBatch = s.list(s.bytes({ max: MAX_TX_BYTES }), { max: MAX_TXS_PER_BLOCK });
export type TxBatch = Infer<typeof TxBatch>;
