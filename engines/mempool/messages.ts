/**
 * What mempools say to each other (gossip among validators), with wire schemas.
 *
 *   announce   "I have admitted these envelopes" (their hashes)
 *   request    "send me the bodies of these" (only hashes the peer announced to us)
 *   envelopes  the requested bodies (encoded SignedEnvelopes)
 *
 * Every message travels in a `MempoolNetMessage` that names the fractal instance in the clear,
 * like consensus's NetEnvelope names the chain, so traffic of another instance is told apart.
 */
import { Hash, MAX_TX_BYTES } from '../../wire/ledger.ts';
import { type Infer, s } from '../../wire/schema.ts';

/** Hashes in one announce or request. */
export const MAX_GOSSIP_HASHES = 1024;
/** Bodies in one `envelopes` message. */
export const MAX_GOSSIP_ENVELOPES = 256;
/** What a responder packs into one `envelopes` message at most (bytes of bodies). */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export const MempoolMessage = s.variant({
  announce: s.struct({ hashes: s.list(Hash, { max: MAX_GOSSIP_HASHES }) }),
  request: s.struct({ hashes: s.list(Hash, { max: MAX_GOSSIP_HASHES }) }),
  envelopes: s.struct({
    envelopes: s.list(s.bytes({ max: MAX_TX_BYTES }), { max: MAX_GOSSIP_ENVELOPES }),
  }),
});
export type MempoolMessage = Infer<typeof MempoolMessage>;

export const MempoolNetMessage = s.struct({ instance: s.string({ max: 64 }), message: MempoolMessage });
export type MempoolNetMessage = Infer<typeof MempoolNetMessage>;

/** Decode limits for mempool traffic: a full response is larger than the codec's default 4 MiB. */
const MAX_MESSAGE_BYTES = MAX_RESPONSE_BYTES + MAX_TX_BYTES + 64 * 1024;
export const MEMPOOL_LIMITS = { maxBytes: MAX_MESSAGE_BYTES, maxLength: MAX_MESSAGE_BYTES, maxDepth: 16 };
