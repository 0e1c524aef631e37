/**
 * The transaction envelope: what clients and validators submit to the mempool and what blocks
 * carry. The fields a proposer may order by (fee, payer, nonce) stay in the clear and are signed
 * by the payer; the body is a plain transaction, a threshold ciphertext, or one of the
 * validators' own messages for the decryptor (decryption shares, DKG messages).
 *
 * Engines meet only through messages, so the format lives here, shared by the mempool,
 * consensus (which sees opaque bytes), the decryptor and the executor.
 */
import { sha256 } from './commit.ts';
import { PublicKey, Signature } from './ledger.ts';
import { encode, type Infer, s } from './schema.ts';

export const MAX_BODY_BYTES = 60 * 1024;

/** What a ciphertext's label binds: it cannot be replayed under another instance, epoch or payer. */
export const CiphertextLabel = s.struct({
  instance: s.string({ max: 64 }),
  epoch: s.u64(),
  payer: PublicKey,
});
export type CiphertextLabel = Infer<typeof CiphertextLabel>;

export const EnvelopeBody = s.variant({
  /** an executor transaction, encoded as the executor defines */
  plain: s.bytes({ max: MAX_BODY_BYTES }),
  /** a TDH2 ciphertext (crypto/tdh2) of an executor transaction, under the key of `epoch` */
  encrypted: s.struct({ epoch: s.u64(), ciphertext: s.bytes({ max: MAX_BODY_BYTES }) }),
  /** a validator's decryption shares for one committed block (decryptor-defined encoding) */
  shares: s.bytes({ max: MAX_BODY_BYTES }),
  /** a validator's DKG message (decryptor-defined encoding) */
  dkg: s.bytes({ max: MAX_BODY_BYTES }),
});
export type EnvelopeBody = Infer<typeof EnvelopeBody>;
export type EnvelopeKind = EnvelopeBody['tag'];

export const Envelope = s.struct({
  /** the fractal instance (chain id) this envelope is for */
  instance: s.string({ max: 64 }),
  /** the fee payer's ed25519 key; it signs the envelope */
  payer: PublicKey,
  fee: s.u64(),
  /** payer-chosen; (payer, nonce) is unique among live envelopes: replay protection */
  nonce: s.u64(),
  /** the last height at which the envelope may be included */
  expiry: s.u64(),
  body: EnvelopeBody,
});
export type Envelope = Infer<typeof Envelope>;

export const SignedEnvelope = s.struct({ envelope: Envelope, signature: Signature });
export type SignedEnvelope = Infer<typeof SignedEnvelope>;

const DOMAIN = new TextEncoder().encode('fractal/envelope/v1');

/** The bytes the payer signs: a domain tag then the envelope's canonical encoding. */
export function envelopeSigningBytes(envelope: Envelope): Uint8Array {
  const body = encode(Envelope, envelope);
  const out = new Uint8Array(DOMAIN.length + body.length);
  out.set(DOMAIN, 0);
  out.set(body, DOMAIN.length);
  return out;
}

/** The envelope's identity: sha256 of the signed envelope's encoding (what blocks and gossip name). */
export function envelopeHash(signed: SignedEnvelope): Uint8Array {
  return sha256(encode(SignedEnvelope, signed));
}

/** The label a ciphertext in `envelope` must carry. */
export function labelBytes(label: CiphertextLabel): Uint8Array {
  return encode(CiphertextLabel, label);
}

/**
 * An epoch's threshold encryption key, once its DKG has finished: the decryptor announces it, the
 * mempool checks encrypted envelopes against it, clients encrypt to `publicKey`.
 */
export const EpochKey = s.struct({
  epoch: s.u64(),
  publicKey: PublicKey,
  threshold: s.u16(),
  verificationKeys: s.list(PublicKey, { max: 1_000 }),
});
export type EpochKey = Infer<typeof EpochKey>;
