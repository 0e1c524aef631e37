/** The decryptor's message schemas: its own envelope bodies and its ports' messages. */

import { ComplaintWire, DealWire } from '../../crypto/dkg.ts';
import { BlockSharesWire } from '../../crypto/tdh2.ts';
import { Hash } from '../../wire/ledger.ts';
import { type Infer, s } from '../../wire/schema.ts';

/** Body of a `shares` envelope: one validator's shares for one committed block's ciphertexts. */
export const SharesMessage = s.struct({
  epoch: s.u64(),
  height: s.u64(),
  blockHash: Hash,
  shares: BlockSharesWire,
});
export type SharesMessage = Infer<typeof SharesMessage>;

/** Body of a `dkg` envelope. */
export const DkgMessage = s.variant({ deal: DealWire, complaint: ComplaintWire });
export type DkgMessage = Infer<typeof DkgMessage>;

export { EpochKey } from '../../wire/envelope.ts';
