/**
 * The swap application as the solver engine and the gossip engine see it: a swap intent wrapped in
 * the intent body gossip carries (`swapIntentBody`), and the swap's solver algorithm as the solver
 * engine's `SolveBatch` (`swapSolveBatch`): read the batch's intents, keep the live ones whose
 * offered notes stand in state, one per owner (the swap-owner predicate takes one intent per owner
 * per transaction), solve the auction, build and sign the settlement transaction.
 */
import { type Note, noteKey, Transaction, type Transaction as Tx } from '../../engines/executor/notes.ts';
import type { BatchSolution, SolveBatch } from '../../engines/solver/pool.ts';
import { toHex } from '../../wire/commit.ts';
import { type DeliveredIntent, type IntentBody, spentNoteId } from '../../wire/intent.ts';
import { encode } from '../../wire/schema.ts';
import type { Order } from './auction.ts';
import { expired, readIntent, SignedSwapIntent, type SwapTerms, swapTopic } from './format.ts';
import { swapOwnerCommitment } from './predicate.ts';
import { type OfferedIntent, orderOf, settlementTx } from './settlement.ts';
import { DEFAULT_SOLVE_OPTIONS, type SolveOptions, solveBatch } from './solve.ts';

/** The gossip topic prefix of swap intents (a solver's filter names it). */
export const SWAP_TOPIC = 'swap/v1';

/**
 * A signed swap intent as gossip carries it: the topic of its asset pair, attributes a filter can
 * test (`pair`: the topic's pair, `give`: the amount offered), the ids of the offered notes as its
 * inputs (`spentNoteId` of their storage keys, what the ledger reports spent, so a pool drops the
 * intent once one is), its expiry (height, and optionally a time pools drop it at), the
 * settlement-conditional fee, and the intent as the opaque payload.
 */
export function swapIntentBody(
  intent: SignedSwapIntent,
  fee: bigint | null = null,
  expiresAt: bigint | null = null,
): IntentBody {
  const topic = swapTopic(intent.terms.give.of, intent.terms.want.of);
  return {
    topic,
    attributes: [
      { key: 'pair', value: { tag: 'text', value: topic.slice(SWAP_TOPIC.length + 1) } },
      { key: 'give', value: { tag: 'num', value: intent.terms.give.amount } },
    ],
    inputs: offeredNotes(intent.terms).map(spentNoteId),
    expiry: intent.terms.expires + 1n,
    expiresAt,
    fee,
    maxHops: 32,
    payload: encode(SignedSwapIntent, intent),
  };
}

export interface SwapSolverOptions {
  /** the note stored under a note's storage key (engines/executor `noteKey`), as state stands */
  readonly noteAt: (storageKey: Uint8Array) => Note | undefined;
  /** the solver's ed25519 seed and the swap-owner notes it may spend on rounding dust */
  readonly solver: { readonly secretKey: Uint8Array; readonly notes: () => readonly Note[] };
  readonly solve?: SolveOptions;
}

/** Where the notes an intent offers are stored: its owner's swap-owner notes of the asset it gives. */
export function offeredNotes(terms: SwapTerms): Uint8Array[] {
  const owner = swapOwnerCommitment(terms.owner);
  const { provenance, application } = terms.give.of;
  return terms.inputs.map((key) => noteKey({ provenance, application, owner, key }));
}

/** The transaction's encoding, as a solution carries it. */
export const encodeSettlement = (tx: Tx): Uint8Array => encode(Transaction, tx);

/** The swap's solver algorithm for the solver engine (deterministic given state and batch). */
export function swapSolveBatch(opts: SwapSolverOptions): SolveBatch {
  return (batch: readonly DeliveredIntent[], height: bigint): BatchSolution | undefined => {
    const offers = new Map<string, OfferedIntent>();
    const delivered = new Map<string, Uint8Array>();
    const owners = new Set<string>();
    const orders: Order[] = [];
    for (const d of batch) {
      const read = readIntent(d.body.payload);
      if (!read.ok) continue;
      const { intent } = read;
      if (expired(intent.terms, height)) continue;
      const owner = toHex(intent.terms.owner);
      if (owners.has(owner)) continue;
      const notes = offeredNotes(intent.terms).map(opts.noteAt);
      if (notes.some((n) => n === undefined)) continue;
      const order = orderOf(intent);
      if (offers.has(order.id)) continue;
      owners.add(owner);
      offers.set(order.id, { intent, notes: notes as Note[] });
      delivered.set(order.id, d.id);
      orders.push(order);
    }
    if (orders.length < 2) return undefined;
    const solved = solveBatch(orders, opts.solve ?? DEFAULT_SOLVE_OPTIONS);
    if (!solved.ok || solved.settlement.fills.length === 0) return undefined;
    const built = settlementTx({
      settlement: solved.settlement,
      offers,
      solver: { secretKey: opts.solver.secretKey, notes: opts.solver.notes() },
    });
    if (!built.ok) return undefined;
    return {
      tx: encodeSettlement(built.tx),
      used: solved.settlement.fills.map((f) => delivered.get(f.id)!),
    };
  };
}
