/**
 * The swap application's intent format (README.md): "give up to `give.amount` of one asset, want at
 * least `want.amount` of another", signed by the owner of the offered notes.
 *
 *   AssetRef          { provenance, application, asset }: what the token app's conservation counts
 *                     by (seed 002: a relayed note is not interchangeable with a local one)
 *   SwapTerms         owner, give, want, partial, expires, inputs (the offered notes' keys), nonce,
 *                     routeFee and entry (the routing reward: rewards.ts)
 *   SignedSwapIntent  { terms, signature }: ed25519 by `terms.owner` over the intent id
 *
 * The intent id is sha256(ID_DOMAIN ++ canonical terms): what the owner signs, what gossip
 * deduplicates by, and what a settlement spends once.
 */
import { sha256, toHex } from '../../wire/commit.ts';
import { DecodeError } from '../../wire/errors.ts';
import { decode, encode, type Infer, s } from '../../wire/schema.ts';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, sign, verify } from '../../wire/sign.ts';

/** At most this many notes offered by one intent (each is a read and a write of the settlement). */
export const MAX_INPUTS = 16;
/** The encoded size an intent may have: terms with every list full, and the signature. */
export const MAX_INTENT_BYTES = 4096;

export const AssetRef = s.struct({
  provenance: s.list(s.bytes({ max: 64 }), { max: 32 }),
  application: s.bytes({ length: 32 }),
  asset: s.bytes({ length: 32 }),
});
export type AssetRef = Infer<typeof AssetRef>;

export const Amounted = s.struct({ of: AssetRef, amount: s.u64() });
export type Amounted = Infer<typeof Amounted>;

export const SwapTerms = s.struct({
  /** the offered notes' owner key, and the receiver of what is bought and of any change */
  owner: s.bytes({ length: PUBLIC_KEY_BYTES }),
  give: Amounted,
  want: Amounted,
  /** may a settlement sell less than `give.amount` (at the same limit price)? */
  partial: s.bool(),
  /** the last height at which the intent may settle */
  expires: s.u64(),
  /** keys of the offered notes: together they hold at least `give.amount` of `give.of` */
  inputs: s.list(s.bytes({ length: 32 }), { max: MAX_INPUTS }),
  nonce: s.bytes({ length: 32 }),
  /**
   * the routing reward (rewards.ts): at most this much of the wanted asset goes to the gossip nodes
   * on the signed route that carried the intent to the solver, and only if it settles
   */
  routeFee: s.u64(),
  /** the node (its key) the owner handed the intent to: a paid route starts there; empty when routeFee is 0 */
  entry: s.bytes({ max: PUBLIC_KEY_BYTES }),
});
export type SwapTerms = Infer<typeof SwapTerms>;

export const SignedSwapIntent = s.struct({
  terms: SwapTerms,
  signature: s.bytes({ length: SIGNATURE_BYTES }),
});
export type SignedSwapIntent = Infer<typeof SignedSwapIntent>;

const ID_DOMAIN = new TextEncoder().encode('fractal/swap/intent/v1\0');

/** What the owner signs and what names the intent everywhere. */
export function intentId(terms: SwapTerms): Uint8Array {
  const body = encode(SwapTerms, terms);
  const msg = new Uint8Array(ID_DOMAIN.length + body.length);
  msg.set(ID_DOMAIN, 0);
  msg.set(body, ID_DOMAIN.length);
  return sha256(msg);
}

/** Why terms are not a well-formed swap, or undefined. */
export function malformedTerms(t: SwapTerms): string | undefined {
  if (t.give.amount === 0n) return 'gives nothing';
  if (t.want.amount === 0n) return 'wants nothing';
  if (sameAsset(t.give.of, t.want.of)) return 'gives and wants the same asset';
  if (t.inputs.length === 0) return 'offers no notes';
  const keys = new Set(t.inputs.map(toHex));
  if (keys.size !== t.inputs.length) return 'offers a note twice';
  if (t.entry.length !== 0 && t.entry.length !== PUBLIC_KEY_BYTES)
    return 'names an entry node that is not a key';
  if (t.routeFee > 0n && t.entry.length === 0) return 'pays a route without naming its entry node';
  return undefined;
}

/**
 * Whether an intent may no longer settle in the block at `height`: `expires` is the last height
 * it may (inclusive). The owner predicate, gossip and the solver all decide by this.
 */
export function expired(terms: SwapTerms, height: bigint): boolean {
  return height > terms.expires;
}

export function sameAsset(a: AssetRef, b: AssetRef): boolean {
  return assetKey(a) === assetKey(b);
}

/** A string naming an asset, for maps: provenance, application and asset id in hex. */
export function assetKey(a: AssetRef): string {
  return `${a.provenance.map(toHex).join('.')}/${toHex(a.application)}/${toHex(a.asset)}`;
}

/** The owner's intent: terms and their signature. */
export function signIntent(terms: SwapTerms, secretKey: Uint8Array): SignedSwapIntent {
  const bad = malformedTerms(terms);
  if (bad !== undefined) throw new RangeError(`swap terms: ${bad}`);
  return { terms, signature: sign(secretKey, intentId(terms)) };
}

export type IntentCheck =
  | { readonly ok: true; readonly intent: SignedSwapIntent; readonly id: Uint8Array }
  | { readonly ok: false; readonly reason: string };

/**
 * An intent read from bytes a peer or client sent: decoded within MAX_INTENT_BYTES, well formed,
 * and signed by its owner. Anything else is a reason, never a throw.
 */
export function readIntent(bytes: Uint8Array): IntentCheck {
  if (bytes.length > MAX_INTENT_BYTES)
    return { ok: false, reason: `intent is over ${MAX_INTENT_BYTES} bytes` };
  let intent: SignedSwapIntent;
  try {
    intent = decode(SignedSwapIntent, bytes);
  } catch (e) {
    return { ok: false, reason: `undecodable intent: ${e instanceof DecodeError ? e.code : 'error'}` };
  }
  const bad = malformedTerms(intent.terms);
  if (bad !== undefined) return { ok: false, reason: `malformed intent: ${bad}` };
  const id = intentId(intent.terms);
  if (!verify(intent.terms.owner, id, intent.signature)) return { ok: false, reason: 'bad intent signature' };
  return { ok: true, intent, id };
}

/** The gossip topic of a swap between two assets: one per ordered pair (`swap/v1/<give>/<want>`). */
export function swapTopic(give: AssetRef, want: AssetRef): string {
  return `swap/v1/${shortAsset(give)}/${shortAsset(want)}`;
}

/** 16 hex digits of sha256(asset key): topics stay short, and distinct for distinct assets. */
function shortAsset(a: AssetRef): string {
  return toHex(sha256(encode(AssetRef, a)).subarray(0, 8));
}
