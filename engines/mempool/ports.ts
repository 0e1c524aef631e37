/**
 * The mempool engine's port messages.
 *
 * NetIn, NetOut, PeerPenalty and TxBatch are the same wire types as consensus's (engines never
 * import each other, so they are defined again here; the graph checks that connected ports carry
 * equal wire types). EpochKey is the decryptor's announcement of an epoch's encryption key.
 */
import { CommittedBlock, Hash, MAX_TX_BYTES, MAX_TXS_PER_BLOCK } from '../../wire/ledger.ts';
import { type Infer, s } from '../../wire/schema.ts';

const MAX_FRAME = 32 * 1024 * 1024;

/** Bytes from a peer (the network layer does not decode: the mempool does, and penalises). */
export const NetIn = s.struct({ peer: s.string({ max: 128 }), bytes: s.bytes({ max: MAX_FRAME }) });
export type NetIn = Infer<typeof NetIn>;

/** Bytes for one peer, or for every peer when `to` is empty. */
export const NetOut = s.struct({ to: s.string({ max: 128 }), bytes: s.bytes({ max: MAX_FRAME }) });
export type NetOut = Infer<typeof NetOut>;

export const PeerPenalty = s.struct({ peer: s.string({ max: 128 }), reason: s.string({ max: 32 }) });
export type PeerPenalty = Infer<typeof PeerPenalty>;

/** The proposer's candidate transactions (encoded SignedEnvelopes), in priority order: consensus's `txs`. */
export const TxBatch = s.list(s.bytes({ max: MAX_TX_BYTES }), { max: MAX_TXS_PER_BLOCK });
export type TxBatch = Infer<typeof TxBatch>;

/**
 * A client's (or the decryptor's) envelope: `bytes` is an encoded SignedEnvelope; `id` is echoed in
 * the reply so the caller can match it. Oversized bytes are accepted by the port and rejected
 * by admission with `oversize`.
 */
export const SubmitTx = s.struct({ id: s.string({ max: 64 }), bytes: s.bytes({ max: 1024 * 1024 }) });
export type SubmitTx = Infer<typeof SubmitTx>;

/** The answer to one `submit`: the envelope hash when it decoded, and the reason when rejected. */
export const AdmitReply = s.struct({
  id: s.string({ max: 64 }),
  ok: s.bool(),
  hash: s.option(Hash),
  reason: s.option(s.string({ max: 32 })),
});
export type AdmitReply = Infer<typeof AdmitReply>;

export { EpochKey } from '../../wire/envelope.ts';

import { EpochKey } from '../../wire/envelope.ts';

export const mempoolInputs = { submit: SubmitTx, net: NetIn, committed: CommittedBlock, epochKey: EpochKey };
export const mempoolOutputs = { admitted: AdmitReply, txs: TxBatch, net: NetOut, penalty: PeerPenalty };
