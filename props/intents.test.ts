/**
 * Intents end to end in the simulator: users submit swap intents at different gossip nodes of an
 * overlay; gossip carries them to the node running a solver engine with the swap application's
 * solver; its solution, executed against the ledger, settles them in one transaction and moves
 * every balance exactly as the fills say.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Order } from '../apps/swap/auction.ts';
import { swapSolveBatch } from '../apps/swap/batch.ts';
import { swapIntentBody } from '../apps/swap/body.ts';
import { swapTopic } from '../apps/swap/format.ts';
import { SwapPayload } from '../apps/swap/predicate.ts';
import { routePayouts } from '../apps/swap/rewards.ts';
import { orderOf } from '../apps/swap/settlement.ts';
import {
  ASSETS,
  balance,
  held,
  intentOf,
  run,
  solver,
  storeWith,
  supply,
  tokenA,
  tokenB,
  users,
  X,
  Y,
  Z,
} from '../apps/swap/testing.ts';
import { ownerCommitment, registerTokenCode } from '../apps/token/client.ts';
import { declaredOf, tokenValueOf } from '../apps/token/format.ts';
import type { Note } from '../engines/executor/notes.ts';
import { Transaction } from '../engines/executor/notes.ts';
import { createSolverEngine } from '../engines/solver/engine.ts';
import type { Solution } from '../engines/solver/ports.ts';
import { Random } from '../runtime/random.ts';
import { GossipOverlay, overlayNodeSeed, randomOverlay } from '../sim/overlay.ts';
import { toHex } from '../wire/commit.ts';
import { decode } from '../wire/schema.ts';
import { keyPairFromSeed } from '../wire/sign.ts';
import { propParams } from './config.ts';

const PAIRS = ASSETS.flatMap((a) => ASSETS.filter((b) => b !== a).map((b) => swapTopic(a, b)));
const SOLVER_FLOAT = 1_000n;

interface Trader {
  readonly user: number;
  readonly at: number;
  readonly give: readonly [(typeof ASSETS)[number], bigint];
  readonly want: readonly [(typeof ASSETS)[number], bigint];
  /** a routing reward for the route from the node it is submitted at */
  readonly routeFee?: bigint;
}

/** Overlay node i's key when the overlay signs with ed25519 (routes a settlement can pay). */
const nodeKey = (i: number) => keyPairFromSeed(overlayNodeSeed(i)).publicKey;

/** Runs the overlay with a solver on its last node; returns the solution and the ledger's notes. */
function runIntents(seed: number, nodes: number, traders: readonly Trader[], ed25519 = false) {
  const offered = traders.map((t, i) => held(users[t.user]!, t.give[0], t.give[1], `offer ${i}`));
  const solverNotes = ASSETS.map((a, i) => held(solver, a, SOLVER_FLOAT, `float ${i}`));
  const before: Note[] = [...offered, ...solverNotes];
  const store = storeWith(before);
  // the nodes' token accounts, where route rewards are paid
  for (const token of [tokenA, tokenB])
    registerTokenCode(
      store,
      token,
      Array.from({ length: nodes }, (_, i) => nodeKey(i)),
    );
  const intents = traders.map((t, i) =>
    intentOf(users[t.user]!, [offered[i]!], {
      give: t.give,
      want: t.want,
      partial: true,
      nonce: i,
      ...(t.routeFee === undefined ? {} : { routeFee: t.routeFee, entry: nodeKey(t.at) }),
    }),
  );
  const solutions: Solution[] = [];
  let solverIn: ((height: bigint) => void) | undefined;
  const overlay = new GossipOverlay({
    seed,
    filters: Array.from({ length: nodes }, () => ({ topics: PAIRS, where: [] })),
    edges: randomOverlay(nodes, 3, new Random(`intents/${seed}`)),
    latency: 20,
    trace: false,
    ed25519,
    attach: (node, i) => {
      if (i !== nodes - 1) return;
      const solve = swapSolveBatch({
        noteAt: (key) => store.note(key),
        solver: { secretKey: solver.secretKey, notes: () => solverNotes },
        ...(ed25519 ? { node: nodeKey(i) } : {}),
      });
      const engine = createSolverEngine(solve);
      const s = node.graph.add('solver', engine, { batchSize: 1000, batchEvery: 1 });
      node.graph.connect(node.gossip.out.intents, s.in.intents);
      node.graph.connect(node.gossip.out.gone, s.in.gone);
      node.graph.observe(s.out.solution).subscribe((x) => solutions.push(x));
      solverIn = (height) => node.graph.send(s.in.chain, { height, spent: [] }, 'chain');
    },
  });
  // the topics' meshes form at the first heartbeats (1 s); then the users submit
  overlay.runUntil(2_000);
  for (const [i, t] of traders.entries()) overlay.submit(t.at, swapIntentBody(intents[i]!));
  overlay.runUntil(6_000);
  // a height passes: the batch is due
  solverIn!(1n);
  overlay.runUntil(7_000);
  // every intent reached every node (the solver's among them)
  for (const n of overlay.nodes) expect(n.delivered.size).toBe(traders.length);
  return { intents, before, store, solutions };
}

/** Random traders, one per user: what they give and want (a fee for the route when `fees`). */
function tradersArb(o: { minGive: bigint; fees: boolean }) {
  const asset = fc.constantFrom(...ASSETS);
  const trader = fc
    .record({
      at: fc.integer({ min: 0, max: 5 }),
      give: asset,
      want: asset,
      g: fc.bigInt({ min: o.minGive, max: 1000n }),
      w: fc.bigInt({ min: 1n, max: o.fees ? 900n : 1000n }),
      fee: o.fees
        ? fc.option(fc.bigInt({ min: 1n, max: 4096n }), { nil: undefined })
        : fc.constant(undefined),
    })
    .filter((t) => t.give !== t.want);
  return fc.array(trader, { minLength: 2, maxLength: 6 }).map((ts) =>
    ts.map(
      (t, i): Trader => ({
        user: i,
        at: t.at,
        give: [t.give, t.g],
        want: [t.want, t.w],
        ...(t.fee === undefined ? {} : { routeFee: t.fee }),
      }),
    ),
  );
}

/** What trader t sold and bought, from the notes before and after. */
function tradeOf(t: Trader, before: readonly Note[], after: readonly Note[]): { lost: bigint; got: bigint } {
  const u = users[t.user]!;
  return {
    lost: balance(before, u, t.give[0]) - balance(after, u, t.give[0]),
    got: balance(after, u, t.want[0]) - balance(before, u, t.want[0]),
  };
}

describe('intents end to end (simulator)', () => {
  it("property: routing rewards: each node on a settled intent's route gets exactly its share, owners keep their limits", () => {
    let paidRuns = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1 << 30 }),
        tradersArb({ minGive: 100n, fees: true }),
        (seed, traders) => {
          const { intents, before, store, solutions } = runIntents(seed, 6, traders, true);
          if (solutions.length === 0) return;
          const tx = decode(Transaction, solutions[0]!.tx);
          const { result, after } = run(store, [tx]);
          expect(result.receipts[0]!.accepted).toBe(true);
          // what the payload's routes owe each node, against what its token accounts received
          const payload = decode(SwapPayload, declaredOf(tx).payload);
          const owed = new Map<string, bigint>();
          for (const [k, intent] of payload.intents.entries()) {
            const route = payload.routes[k];
            if (intent.terms.routeFee === 0n) {
              expect(route ?? null).toBeNull();
              continue;
            }
            expect(route).toBeTruthy();
            for (const p of routePayouts(intent.terms.routeFee, route!.route))
              owed.set(toHex(p.node), (owed.get(toHex(p.node)) ?? 0n) + p.amount);
          }
          for (let i = 0; i < 6; i++) {
            const own = toHex(ownerCommitment(nodeKey(i)));
            const got = after
              .filter((n) => toHex(n.owner) === own)
              .reduce((s, n) => s + (tokenValueOf(n.value)?.amount ?? 0n), 0n);
            expect(got).toBe(owed.get(toHex(nodeKey(i))) ?? 0n);
            if (got > 0n) paidRuns++;
          }
          // every owner kept its limit on what it sold
          for (const [i, t] of traders.entries()) {
            const { lost, got } = tradeOf(t, before, after);
            if (lost > 0n) expect(got * t.give[1] >= lost * t.want[1]).toBe(true);
            expect(intents[i]).toBeDefined();
          }
          for (const a of ASSETS) expect(supply(after, a)).toBe(supply(before, a));
        },
      ),
      propParams('props.intents-route-rewards', 20),
    );
    expect(paidRuns).toBeGreaterThan(0);
  });

  it('a ring of three users at three nodes settles in one transaction, balances moving as the fills say', () => {
    const traders: Trader[] = [
      { user: 0, at: 0, give: [X, 100n], want: [Y, 90n] },
      { user: 1, at: 1, give: [Y, 100n], want: [Z, 90n] },
      { user: 2, at: 2, give: [Z, 100n], want: [X, 95n] },
    ];
    const { intents, before, store, solutions } = runIntents(1, 6, traders);
    expect(solutions).toHaveLength(1);
    const tx = decode(Transaction, solutions[0]!.tx);
    const { result, after } = run(store, [tx]);
    expect(result.receipts[0]!.accepted).toBe(true);
    for (const [i, t] of traders.entries()) {
      expect(balance(after, users[t.user]!, t.give[0])).toBe(0n);
      expect(balance(after, users[t.user]!, t.want[0]) >= t.want[1]).toBe(true);
      expect(intents[i]).toBeDefined();
    }
    for (const a of ASSETS) expect(supply(after, a)).toBe(supply(before, a));
  });

  it('property: whatever the overlay and where intents enter, a settlement executes and moves balances exactly as its fills say', () => {
    let settled = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1 << 30 }),
        tradersArb({ minGive: 1n, fees: false }),
        (seed, traders) => {
          const { intents, before, store, solutions } = runIntents(seed, 6, traders);
          if (solutions.length === 0) return;
          settled++;
          const tx = decode(Transaction, solutions[0]!.tx);
          const { result, after } = run(store, [tx]);
          expect(result.receipts[0]!.accepted).toBe(true);
          // each trader's balances moved by its fill, read back from the transaction's intents
          const orders = new Map<string, Order>(intents.map((i) => [orderOf(i).id, orderOf(i)]));
          const used = new Set(solutions[0]!.intents.map(toHex));
          expect(used.size).toBeGreaterThanOrEqual(2);
          let moved = 0n;
          for (const [i, t] of traders.entries()) {
            const { lost, got } = tradeOf(t, before, after);
            // a trader either did not trade or kept its limit
            if (lost > 0n) expect(got * t.give[1] >= lost * t.want[1]).toBe(true);
            else expect(got).toBe(0n);
            moved += lost;
            expect(orders.has(orderOf(intents[i]!).id)).toBe(true);
          }
          expect(moved > 0n).toBe(true);
          for (const a of ASSETS) expect(supply(after, a)).toBe(supply(before, a));
          // the solver paid no more than rounding dust
          for (const a of ASSETS) expect(balance(after, solver, a) <= SOLVER_FLOAT).toBe(true);
        },
      ),
      propParams('props.intents-end-to-end', 30),
    );
    expect(settled).toBeGreaterThan(0);
  });
});
