/**
 * The mempool engine's port messages.
 *
 * NetIn, NetOut, PeerPenalty and TxBatch are shared with consensus (wire/ports.ts); EpochKey is
 * the decryptor's announcement of an epoch's encryption key (wire/envelope.ts).
 */
import { CommittedBlock, Hash } from '../../wire/ledger.ts';
import { NetIn, NetOut, PeerPenalty, TxBatch } from '../../wire/ports.ts';
import { type Infer, s } from '../../wire/schema.ts';

export { NetIn, NetOut, PeerPenalty, TxBatch };

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
