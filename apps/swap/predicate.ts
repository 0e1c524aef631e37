/**
 * The swap's owner predicate (README.md, "Settlement"): `swap-owner@1`, native, config = the
 * owner's 32-byte ed25519 public key. Notes the owner wants to offer in intents carry its
 * commitment. Called once per transaction with the executor's TxView, it accepts iff
 *
 *   1. the transaction consumes no note with this owner commitment (receiving needs no signature), or
 *   2. the payload's first signature entry for the key is valid over the transaction digest (the
 *      token's digest, so one signature serves swap-owner and ed25519-owner notes alike), or
 *   3. the payload holds exactly one intent of this owner, not expired, validly signed, and the
 *      transaction honours it: the owner's consumed notes are exactly the intent's inputs, the
 *      owner loses nothing but the asset it gives, and what it sells and buys keeps the limit
 *      price and the fill rule (fill.ts `fillViolation`); and
 *   4. if the intent has a route fee, the payload carries the route it came by, signed hop by hop
 *      from the entry node the owner named to the solver's node (rewards.ts `routeViolation`), and
 *      the transaction creates each node's reward note exactly (`rewardNotes`).
 *
 * Expiry is inclusive: `terms.expires` is the last height at which the intent may settle (as
 * format.ts says and gossip and the solver read it), so a settlement executing at a height
 * greater than `expires` is refused; the height is the executing block's, from the TxView. A
 * signature of the owner (rule 2) authorises the transaction whatever any intent says.
 */
import { type Note, Note as NoteSchema } from '../../engines/executor/notes.ts';
import type { NativeDefinition, NativeRegistry } from '../../vm/native.ts';
import { toHex } from '../../wire/commit.ts';
import { encode, type Infer, s, tryDecode } from '../../wire/schema.ts';
import { PUBLIC_KEY_BYTES, verify } from '../../wire/sign.ts';
import { bytesEqual, type DataValue } from '../../wire/types.ts';
import { MAX_SIGNATURES, SignatureEntry, signaturesOf, tokenValueOf } from '../token/format.ts';
import {
  commitmentCache,
  type DeclaredView,
  declaredViewOf,
  outOfGas,
  SIGNATURE_GAS,
  verdict,
} from '../token/predicates.ts';
import { fillViolation, limitOf } from './fill.ts';
import { type AssetRef, assetKey, expired, intentId, malformedTerms, SignedSwapIntent } from './format.ts';
import { SWAP_OWNER_NAME, SWAP_OWNER_VERSION } from './owner.ts';
import { RouteProof, rewardNotes, routeViolation } from './rewards.ts';

export { SWAP_OWNER_NAME, SWAP_OWNER_VERSION, swapOwnerCommitment, swapOwnerPredicate } from './owner.ts';
/** Intents one settlement may carry (the Declared payload's 128 KiB bounds it first in practice). */
export const MAX_PAYLOAD_INTENTS = 256;

/**
 * The payload of a settlement: signatures over the transaction digest (the solver's, for its own
 * notes) and the intents whose owners' notes it spends. The token's conservation predicate reads
 * payloads as a TokenPayload only, so in a SwapPayload it finds no signature: a settlement can
 * neither mint nor burn, and ed25519-owner notes cannot be spent in one (their predicate reads
 * TokenPayloads only); a solver pays dust from swap-owner notes.
 */
export const SwapPayload = s.struct({
  signatures: s.list(SignatureEntry, { max: MAX_SIGNATURES }),
  intents: s.list(SignedSwapIntent, { max: MAX_PAYLOAD_INTENTS }),
  /** the route paid for each intent (rewards.ts), by position; none where it pays no route */
  routes: s.list(s.option(RouteProof), { max: MAX_PAYLOAD_INTENTS }),
});
export type SwapPayload = Infer<typeof SwapPayload>;

/** What the predicate reads of a transaction, once per transaction view. */
interface View extends DeclaredView {
  readonly signatures: readonly SignatureEntry[];
  readonly intents: readonly SignedSwapIntent[];
  readonly routes: readonly (RouteProof | null)[];
}

/** Signatures and intents of a payload: a SwapPayload, else a TokenPayload (no intents), else none. */
export function swapPayloadOf(payload: Uint8Array): SwapPayload {
  const p = tryDecode(SwapPayload, payload);
  if (p.ok) return p.value;
  return { signatures: [...signaturesOf(payload)], intents: [], routes: [] };
}

const withPayload = new WeakMap<DeclaredView, View>();

/** The view bound to its Declared transaction (apps/token `declaredViewOf`), with its swap payload. */
function viewOf(args: readonly DataValue[]): View | undefined {
  const view = declaredViewOf(args);
  if (view === undefined) return undefined;
  let v = withPayload.get(view);
  if (v === undefined) {
    v = { ...view, ...swapPayloadOf(view.declared.payload) };
    withPayload.set(view, v);
  }
  return v;
}

/** The asset a token-valued note holds, named as intents name it (format.ts `assetKey`). */
export function noteAssetKey(note: Note, asset: Uint8Array): string {
  const ref: AssetRef = { provenance: note.provenance, application: note.application, asset };
  return assetKey(ref);
}

/**
 * Per asset, what the transaction gives `owner` (a commitment): created − consumed over its
 * notes. Undefined if a consumed note of the owner holds no token value: the predicate cannot
 * tell what it is worth, so no intent may spend it. Created notes that hold no token value are
 * gifts, not counted.
 */
export function ownerDeltas(
  owner: Uint8Array,
  inputs: readonly Note[],
  outputs: readonly Note[],
): Map<string, bigint> | undefined {
  const deltas = new Map<string, bigint>();
  for (const n of inputs) {
    if (!bytesEqual(n.owner, owner)) continue;
    const v = tokenValueOf(n.value);
    if (v === undefined) return undefined;
    const k = noteAssetKey(n, v.asset);
    deltas.set(k, (deltas.get(k) ?? 0n) - v.amount);
  }
  for (const n of outputs) {
    if (!bytesEqual(n.owner, owner)) continue;
    const v = tokenValueOf(n.value);
    if (v === undefined) continue;
    const k = noteAssetKey(n, v.asset);
    deltas.set(k, (deltas.get(k) ?? 0n) + v.amount);
  }
  return deltas;
}

/** Why the transaction does not honour `intent` for the owner `self` (a commitment), or undefined. */
export function intentViolation(
  intent: SignedSwapIntent,
  self: Uint8Array,
  inputs: readonly Note[],
  outputs: readonly Note[],
): string | undefined {
  const t = intent.terms;
  const owned = inputs.filter((n) => bytesEqual(n.owner, self));
  const offered = new Set(t.inputs.map(toHex));
  const spent = new Set(owned.map((n) => toHex(n.key)));
  if (spent.size !== owned.length || owned.length !== offered.size)
    return 'consumes notes the intent does not offer';
  for (const k of spent) if (!offered.has(k)) return 'consumes notes the intent does not offer';
  const deltas = ownerDeltas(self, inputs, outputs);
  if (deltas === undefined) return 'consumes a note that holds no token value';
  const give = assetKey(t.give.of);
  const want = assetKey(t.want.of);
  for (const [asset, d] of deltas)
    if (asset !== give && asset !== want && d < 0n) return 'takes an asset the intent does not give';
  const sold = -(deltas.get(give) ?? 0n);
  const bought = deltas.get(want) ?? 0n;
  return fillViolation(limitOf(t), { sold, bought });
}

/** Whether every reward note is among the outputs, to the byte (its key makes each paid once). */
function rewardsPaid(rewards: readonly Note[], outputs: readonly Note[]): boolean {
  const encoded = (n: Note) => toHex(encode(NoteSchema, n));
  return rewards.every((r) => {
    // only the output under the reward's key can be it: one encoding compared, not every output's
    const out = outputs.find((n) => bytesEqual(n.key, r.key));
    return out !== undefined && encoded(out) === encoded(r);
  });
}

const selfCommitment = commitmentCache(SWAP_OWNER_NAME, SWAP_OWNER_VERSION);

export const SWAP_OWNER: NativeDefinition = {
  name: SWAP_OWNER_NAME,
  version: SWAP_OWNER_VERSION,
  baseGas: 200,
  perByteGas: 1,
  takesConfig: true,
  run(args, config, _ctx, gasLeft) {
    if (config.length !== PUBLIC_KEY_BYTES) return verdict(false);
    const view = viewOf(args);
    if (view === undefined) return verdict(false);
    const self = selfCommitment(config);
    if (!view.inputs.some((n) => bytesEqual(n.owner, self))) return verdict(true);
    let gas = 0;
    // a signature over the digest authorises anything, as for ed25519-owner
    const entry = view.signatures.find((e) => bytesEqual(e.publicKey, config));
    if (entry !== undefined) {
      if (gasLeft < SIGNATURE_GAS) return outOfGas(gasLeft);
      gas += SIGNATURE_GAS;
      if (verify(config, view.digest, entry.signature)) return verdict(true, gas);
    }
    // otherwise the owner's one intent, honoured
    const at = view.intents.flatMap((i, k) => (bytesEqual(i.terms.owner, config) ? [k] : []));
    if (at.length !== 1) return verdict(false, gas);
    const intent = view.intents[at[0]!]!;
    if (malformedTerms(intent.terms) !== undefined) return verdict(false, gas);
    if (expired(intent.terms, view.height)) return verdict(false, gas);
    if (gasLeft - gas < SIGNATURE_GAS) return outOfGas(gasLeft);
    gas += SIGNATURE_GAS;
    if (!verify(config, intentId(intent.terms), intent.signature)) return verdict(false, gas);
    if (intentViolation(intent, self, view.inputs, view.outputs) !== undefined) return verdict(false, gas);
    if (intent.terms.routeFee === 0n) return verdict(true, gas);
    // rule 4: a route fee pays the signed route from the entry node, each share to its node
    const proof = view.routes[at[0]!] ?? null;
    if (proof === null) return verdict(false, gas);
    const hopsGas = SIGNATURE_GAS * proof.route.length;
    if (gasLeft - gas < hopsGas) return outOfGas(gasLeft);
    gas += hopsGas;
    if (routeViolation(intent, proof, verify) !== undefined) return verdict(false, gas);
    return verdict(rewardsPaid(rewardNotes(intent, proof), view.outputs), gas);
  },
};

/** Adds swap-owner@1 to a registry (and returns it). */
export function swapNatives(registry: NativeRegistry): NativeRegistry {
  return registry.register(SWAP_OWNER);
}
