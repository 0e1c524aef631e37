/**
 * The swap application as the solver engine and the gossip engine see it: a swap intent wrapped in
 * the intent body gossip carries (`swapIntentBody`), and the swap's solver algorithm as the solver
 * engine's `SolveBatch` (`swapSolveBatch`): read the batch's intents, keep the live ones whose
 * offered notes stand in state, one per owner (the swap-owner predicate takes one intent per owner
 * per transaction), solve the auction, build and sign the settlement transaction.
 */
import { type Note, Transaction, type Transaction as Tx } from '../../engines/executor/notes.ts';
import type { BatchSolution, SolveBatch } from '../../engines/solver/pool.ts';
import { toHex } from '../../wire/commit.ts';
import type { DeliveredIntent } from '../../wire/intent.ts';
import { encode } from '../../wire/schema.ts';
import { verify } from '../../wire/sign.ts';
import type { Order } from './auction.ts';
import { offeredNotes } from './body.ts';
import { expired, readIntent } from './format.ts';
import { type RouteProof, routeViolation } from './rewards.ts';
import { type OfferedIntent, orderOf, settlementTx } from './settlement.ts';
import { DEFAULT_SOLVE_OPTIONS, type SolveOptions, solveBatch } from './solve.ts';

export interface SwapSolverOptions {
  /** the note stored under a note's storage key (engines/executor `noteKey`), as state stands */
  readonly noteAt: (storageKey: Uint8Array) => Note | undefined;
  /** the solver's ed25519 seed and the swap-owner notes it may spend on rounding dust */
  readonly solver: { readonly secretKey: Uint8Array; readonly notes: () => readonly Note[] };
  /**
   * the key of the solver's node (whose gossip delivered the batch): the end of each paid route;
   * without it intents with a route fee are left out
   */
  readonly node?: Uint8Array;
  readonly solve?: SolveOptions;
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
      // a route fee is paid along the route gossip delivered it by, which must hold up in the predicate
      let route: RouteProof | undefined;
      if (intent.terms.routeFee > 0n) {
        if (opts.node === undefined) continue;
        route = { expiresAt: d.body.expiresAt, route: [...d.route], solverNode: opts.node };
        if (routeViolation(intent, route, verify) !== undefined) continue;
      }
      owners.add(owner);
      offers.set(order.id, { intent, notes: notes as Note[], ...(route === undefined ? {} : { route }) });
      delivered.set(order.id, d.id);
      orders.push(order);
    }
    const attempt = (batchOrders: readonly Order[]): BatchSolution | undefined => {
      if (batchOrders.length < 2) return undefined;
      const solved = solveBatch(batchOrders, opts.solve ?? DEFAULT_SOLVE_OPTIONS);
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
    // route fees come out of the fills' surplus; a shortfall the solver's own notes cannot cover
    // fails the batch, so then the intents that pay no route are settled alone
    return attempt(orders) ?? attempt(orders.filter((o) => offers.get(o.id)?.route === undefined));
  };
}
