/**
 * The token's data formats (see README.md):
 *
 *   token definition (conservation predicate config)  { mintAuthority: 32-byte ed25519 key }
 *   owner predicate config                             the owner's 32-byte ed25519 public key
 *   note value                                         { asset: 32 bytes, amount: u64 }, amount > 0
 *   Declared payload                                   { signatures: list<{ publicKey, signature }> }
 *
 * A transaction's digest is sha256(DIGEST_DOMAIN ++ canonical Declared with an empty payload), so
 * signatures can be added to the payload without changing what they sign.
 */
import { Declared } from '../../engines/executor/natives.ts';
import type { Transaction } from '../../engines/executor/notes.ts';
import { sha256 } from '../../wire/commit.ts';
import { encode, type Infer, s, tryDecode } from '../../wire/schema.ts';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../../wire/sign.ts';

export const ASSET_BYTES = 32;
export const MAX_SIGNATURES = 64;

export const TokenDefinition = s.struct({ mintAuthority: s.bytes({ length: PUBLIC_KEY_BYTES }) });
export type TokenDefinition = Infer<typeof TokenDefinition>;

export const TokenValue = s.struct({ asset: s.bytes({ length: ASSET_BYTES }), amount: s.u64() });
export type TokenValue = Infer<typeof TokenValue>;

export const SignatureEntry = s.struct({
  publicKey: s.bytes({ length: PUBLIC_KEY_BYTES }),
  signature: s.bytes({ length: SIGNATURE_BYTES }),
});
export type SignatureEntry = Infer<typeof SignatureEntry>;

export const TokenPayload = s.struct({ signatures: s.list(SignatureEntry, { max: MAX_SIGNATURES }) });
export type TokenPayload = Infer<typeof TokenPayload>;

/**
 * A payload with signatures beside another application's data (an IBC transfer's messages, which
 * move token notes whose owners sign): the token's predicates read its signatures as a
 * TokenPayload's; `body` is the other application's business.
 */
export const SignedPayload = s.struct({
  signatures: s.list(SignatureEntry, { max: MAX_SIGNATURES }),
  body: s.bytes({ max: 120 * 1024 }),
});
export type SignedPayload = Infer<typeof SignedPayload>;

const DIGEST_DOMAIN = new TextEncoder().encode('fractal/token/tx-digest/v1\0');

/** What a Declared transaction's signatures sign: its canonical encoding with an empty payload. */
export function declaredDigest(d: Declared): Uint8Array {
  const body = encode(Declared, { inputs: d.inputs, outputs: d.outputs, payload: new Uint8Array(0) });
  const msg = new Uint8Array(DIGEST_DOMAIN.length + body.length);
  msg.set(DIGEST_DOMAIN, 0);
  msg.set(body, DIGEST_DOMAIN.length);
  return sha256(msg);
}

/** The Declared transaction in `tx.extradata`; throws if it is not one. */
export function declaredOf(tx: Transaction): Declared {
  const d = tryDecode(Declared, tx.extradata);
  if (!d.ok) throw new TypeError(`extradata is not a Declared transaction: ${d.error.message}`);
  return d.value;
}

/** The digest a transaction's signatures must sign. */
export function txDigest(tx: Transaction): Uint8Array {
  return declaredDigest(declaredOf(tx));
}

/** The signatures in a payload; a payload that is neither a TokenPayload nor a SignedPayload carries none. */
export function signaturesOf(payload: Uint8Array): readonly SignatureEntry[] {
  if (payload.length === 0) return [];
  const p = tryDecode(TokenPayload, payload);
  if (p.ok) return p.value.signatures;
  const signed = tryDecode(SignedPayload, payload);
  return signed.ok ? signed.value.signatures : [];
}

/** The token value of a note's value bytes, or undefined if malformed or zero. */
export function tokenValueOf(value: Uint8Array): TokenValue | undefined {
  const v = tryDecode(TokenValue, value);
  return v.ok && v.value.amount > 0n ? v.value : undefined;
}
