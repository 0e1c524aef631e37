/**
 * A batch settlement as one Declared transaction (README.md, "Settlement"): the solver consumes
 * every note a filled intent offers, gives each owner what it bought and its change, pays the
 * rounding dust (auction rule 4) from its own swap-owner notes and takes their change, and signs.
 * The payload is a SwapPayload carrying the filled intents, so each owner's swap-owner predicate
 * checks its own intent against what the transaction does to its notes.
 *
 * Amounts are the settlement's, to the unit: the builder rounds nothing itself.
 */
import { Declared } from '../../engines/executor/natives.ts';
import { type Note, noteKey, type Transaction } from '../../engines/executor/notes.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { encode } from '../../wire/schema.ts';
import { keyPairFromSeed, sign } from '../../wire/sign.ts';
import { bytesEqual } from '../../wire/types.ts';
import { declaredTx } from '../token/client.ts';
import { declaredDigest, TokenValue, tokenValueOf } from '../token/format.ts';
import type { Order, Settlement } from './auction.ts';
import { leastBought, limitOf } from './fill.ts';
import { type AssetRef, assetKey, intentId, type SignedSwapIntent } from './format.ts';
import { noteAssetKey, SwapPayload, swapOwnerCommitment } from './predicate.ts';
import { type RouteProof, rewardNotes } from './rewards.ts';

/** The auction's view of an intent: its id is the intent id in hex. */
export function orderOf(intent: SignedSwapIntent): Order {
  const t = intent.terms;
  return {
    id: toHex(intentId(t)),
    sell: assetKey(t.give.of),
    buy: assetKey(t.want.of),
    give: t.give.amount,
    want: t.want.amount,
    partial: t.partial,
  };
}

/** A token note of `amount` of `ref`, owned through swap-owner by the ed25519 key `owner`. */
export function swapNote(owner: Uint8Array, ref: AssetRef, amount: bigint, key: Uint8Array): Note {
  return {
    provenance: [...ref.provenance],
    application: ref.application,
    owner: swapOwnerCommitment(owner),
    key,
    value: encode(TokenValue, { asset: ref.asset, amount }),
  };
}

/**
 * A Declared transaction consuming `inputs` and creating `outputs`, with a SwapPayload of
 * `intents` and signatures by `signers` (ed25519 seeds) over its digest.
 */
export function swapTx(
  inputs: readonly Note[],
  outputs: readonly Note[],
  intents: readonly SignedSwapIntent[],
  signers: readonly Uint8Array[],
  routes: readonly (RouteProof | null)[] = [],
): Transaction {
  const inKeys = inputs.map((n) => noteKey(n));
  const digest = declaredDigest({ inputs: inKeys, outputs: [...outputs], payload: new Uint8Array(0) });
  const signatures = signers.map((sk) => ({
    publicKey: keyPairFromSeed(sk).publicKey,
    signature: sign(sk, digest),
  }));
  return declaredTx(
    inputs,
    outputs,
    encode(SwapPayload, { signatures, intents: [...intents], routes: [...routes] }),
  );
}

/** An intent and the notes its `inputs` name, as they stand in state (the solver looks them up). */
export interface OfferedIntent {
  readonly intent: SignedSwapIntent;
  readonly notes: readonly Note[];
  /** the route the solver's node received it along, paid when the intent has a route fee */
  readonly route?: RouteProof;
}

export interface SettlementRequest {
  readonly settlement: Settlement;
  /** the batch's intents by order id (`orderOf(intent).id`); unfilled ones are left alone */
  readonly offers: ReadonlyMap<string, OfferedIntent>;
  /** the solver's ed25519 seed and swap-owner notes it may spend on dust */
  readonly solver: { readonly secretKey: Uint8Array; readonly notes: readonly Note[] };
}

export type SettlementTx =
  | { readonly ok: true; readonly tx: Transaction }
  | { readonly ok: false; readonly reason: string };

const KEY_DOMAIN = new TextEncoder().encode('fractal/swap/settlement-note/v1\0');

/** Output note keys: unique per transaction, since its inputs can be consumed only once. */
function outputKey(inKeys: readonly Uint8Array[], index: number): Uint8Array {
  const body = encode(Declared, { inputs: [...inKeys], outputs: [], payload: new Uint8Array(0) });
  const msg = new Uint8Array(KEY_DOMAIN.length + body.length + 4);
  msg.set(KEY_DOMAIN, 0);
  msg.set(body, KEY_DOMAIN.length);
  new DataView(msg.buffer).setUint32(KEY_DOMAIN.length + body.length, index);
  return sha256(msg);
}

const bigMax = (a: bigint, b: bigint): bigint => (a >= b ? a : b);

/** Amounts per asset, with the asset's reference (to make notes of it). */
class Holdings {
  readonly amounts = new Map<string, { ref: AssetRef; amount: bigint }>();
  add(ref: AssetRef, amount: bigint): void {
    const k = assetKey(ref);
    const h = this.amounts.get(k);
    this.amounts.set(k, { ref, amount: (h?.amount ?? 0n) + amount });
  }
  get(k: string): bigint {
    return this.amounts.get(k)?.amount ?? 0n;
  }
}

function refOf(note: Note, asset: Uint8Array): AssetRef {
  return { provenance: note.provenance, application: note.application, asset };
}

/** Why the offered notes are not the ones the intent names, held by its owner, or undefined. */
function offerViolation(offer: OfferedIntent): string | undefined {
  const t = offer.intent.terms;
  if (offer.notes.length !== t.inputs.length) return 'offers other notes than its inputs';
  const owner = swapOwnerCommitment(t.owner);
  for (const [i, n] of offer.notes.entries()) {
    if (!bytesEqual(n.key, t.inputs[i]!)) return `note ${i} is not the input the intent names`;
    if (!bytesEqual(n.owner, owner)) return `note ${i} is not held by the intent's owner`;
    if (tokenValueOf(n.value) === undefined) return `note ${i} holds no token value`;
  }
  return undefined;
}

/** The transaction settling `req.settlement`, or why it cannot be built. */
export function settlementTx(req: SettlementRequest): SettlementTx {
  const { settlement, offers, solver } = req;
  if (settlement.fills.length === 0) return { ok: false, reason: 'the settlement fills nothing' };
  const inputs: Note[] = [];
  const pending: { owner: Uint8Array; ref: AssetRef; amount: bigint }[] = [];
  const intents: SignedSwapIntent[] = [];
  const routes: (RouteProof | null)[] = [];
  const rewards: Note[] = [];
  const owners = new Set<string>();
  // per asset: what the owners put in minus what they take out; the solver covers the shortfall
  const pool = new Map<string, { ref: AssetRef; amount: bigint }>();
  const toPool = (ref: AssetRef, amount: bigint) => {
    const k = assetKey(ref);
    pool.set(k, { ref, amount: (pool.get(k)?.amount ?? 0n) + amount });
  };
  for (const fill of settlement.fills) {
    const offer = offers.get(fill.id);
    if (offer === undefined) return { ok: false, reason: `fill of unknown intent ${fill.id}` };
    const t = offer.intent.terms;
    const bad = offerViolation(offer);
    if (bad !== undefined) return { ok: false, reason: `intent ${fill.id}: ${bad}` };
    const ownerHex = toHex(t.owner);
    if (owners.has(ownerHex))
      return { ok: false, reason: `intent ${fill.id}: its owner has another intent in the settlement` };
    owners.add(ownerHex);
    const held = new Holdings();
    for (const n of offer.notes) {
      const v = tokenValueOf(n.value)!;
      held.add(refOf(n, v.asset), v.amount);
    }
    const give = assetKey(t.give.of);
    if (held.get(give) < fill.sold)
      return { ok: false, reason: `intent ${fill.id}: its notes hold less than the fill sells` };
    // a route fee is paid from the fill's surplus: the owner keeps at least its limit, the solver
    // covering any shortfall like rounding dust (rewards.ts)
    let paid: Note[] = [];
    if (t.routeFee > 0n) {
      if (offer.route === undefined)
        return { ok: false, reason: `intent ${fill.id}: its route fee needs a route` };
      paid = rewardNotes(offer.intent, offer.route);
    }
    const fee = paid.reduce((sum, n) => sum + (tokenValueOf(n.value)?.amount ?? 0n), 0n);
    const keeps = fill.bought - fee;
    const least = leastBought(limitOf(t), fill.sold);
    const ownerGets = bigMax(keeps, least);
    held.add(t.give.of, -fill.sold);
    held.add(t.want.of, ownerGets);
    toPool(t.give.of, fill.sold);
    toPool(t.want.of, -(ownerGets + fee));
    inputs.push(...offer.notes);
    for (const { ref, amount } of held.amounts.values())
      if (amount > 0n) pending.push({ owner: t.owner, ref, amount });
    intents.push(offer.intent);
    routes.push(t.routeFee > 0n ? offer.route! : null);
    rewards.push(...paid);
  }
  // dust: the solver's notes cover what the owners take beyond what they put in
  const solverPk = keyPairFromSeed(solver.secretKey).publicKey;
  const solverOwner = swapOwnerCommitment(solverPk);
  const used = new Set<string>();
  for (const [k, { ref, amount }] of pool) {
    const owed = -amount;
    if (owed < 0n) return { ok: false, reason: `the fills sell ${-owed} more of ${k} than they buy` };
    if (owed === 0n) continue;
    let paid = 0n;
    for (const n of solver.notes) {
      if (paid >= owed) break;
      const v = tokenValueOf(n.value);
      const nk = toHex(noteKey(n));
      if (v === undefined || used.has(nk) || noteAssetKey(n, v.asset) !== k) continue;
      if (!bytesEqual(n.owner, solverOwner))
        return { ok: false, reason: 'a solver note is not its swap-owner note' };
      used.add(nk);
      inputs.push(n);
      paid += v.amount;
    }
    if (paid < owed) return { ok: false, reason: `the solver holds ${paid} of ${k}, the dust is ${owed}` };
    if (paid > owed) pending.push({ owner: solverPk, ref, amount: paid - owed });
  }
  const inKeys = inputs.map((n) => noteKey(n));
  const outputs = [
    ...pending.map((p, i) => swapNote(p.owner, p.ref, p.amount, outputKey(inKeys, i))),
    ...rewards,
  ];
  return { ok: true, tx: swapTx(inputs, outputs, intents, [solver.secretKey], routes) };
}
