import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { noteKey } from '../../engines/executor/notes.ts';
import { appendHop } from '../../engines/gossip/route.ts';
import { propParams } from '../../props/config.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { intentId as gossipIntentId, type Hop } from '../../wire/intent.ts';
import { decode } from '../../wire/schema.ts';
import { createSigner, verify } from '../../wire/sign.ts';
import { ownerCommitment, registerTokenCode } from '../token/client.ts';
import { declaredOf, tokenValueOf } from '../token/format.ts';
import { swapIntentBody } from './body.ts';
import { SwapPayload } from './predicate.ts';
import {
  MAX_PAID_HOPS,
  type RouteProof,
  routePayouts,
  routeShares,
  routeViolation,
  share,
  sybilGain,
} from './rewards.ts';
import { type OfferedIntent, orderOf, settlementTx, swapTx } from './settlement.ts';
import { solveBatch } from './solve.ts';
import { balance, held, intentOf, run, solver, storeWith, supply, tokenA, users, X, Y } from './testing.ts';

const hop = (n: number): Hop => ({ node: new Uint8Array(32).fill(n), signature: new Uint8Array(64) });
const fee = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe('liquidity routing rewards', () => {
  it('the red-balloon split: nearest the solver the most, each earlier hop half, the rest to the owner', () => {
    expect(routeShares(1024n, 1)).toEqual([512n]);
    // route order: [entry, ..., nearest the solver]
    expect(routeShares(1024n, 3)).toEqual([32n, 64n, 128n]);
    expect(routeShares(1024n, 3).reduce((a, b) => a + b, 0n)).toBeLessThan(1024n);
  });

  it('property: a party that splits its hop into m hops of its own never gains, and loses a quarter or more', () => {
    fc.assert(
      fc.property(
        fee,
        fc.integer({ min: 1, max: MAX_PAID_HOPS }),
        fc.integer({ min: 1, max: MAX_PAID_HOPS }),
        fc.integer({ min: 2, max: 8 }),
        (f, kRaw, tRaw, m) => {
          const k = Math.min(kRaw, MAX_PAID_HOPS - m + 1);
          const t = ((tRaw - 1) % k) + 1;
          const { honest, split } = sybilGain(f, t, k, m);
          expect(split <= honest).toBe(true);
          // exactly: split <= 3/4 of honest, up to the floors
          expect(4n * split <= 3n * honest + 4n * BigInt(m)).toBe(true);
        },
      ),
      propParams('swap.rewards-sybil', 500),
    );
  });

  it('property: shares never exceed the fee, and halve hop by hop away from the solver', () => {
    fc.assert(
      fc.property(fee, fc.integer({ min: 1, max: MAX_PAID_HOPS }), (f, k) => {
        const s = routeShares(f, k);
        expect(s.reduce((a, b) => a + b, 0n) <= f).toBe(true);
        for (let t = 1; t < k; t++) expect(share(f, t + 1, k)).toBe(share(f, t, k) / 2n);
      }),
      propParams('swap.rewards-split', 300),
    );
  });

  it('forwarding pays: with a fee of at least 2^(2k-1) every hop of a k-hop route gets something', () => {
    for (let k = 1; k <= 8; k++)
      for (const s of routeShares(1n << BigInt(2 * k - 1), k)) expect(s).toBeGreaterThan(0n);
  });

  it('the plain red-balloon split (F / 2^t) would reward a clone: the reason for the length discount', () => {
    const plain = (f: bigint, t: number) => f >> BigInt(t);
    // hop 2 of a route adds a clone behind itself: it now holds hops 2 and 3
    expect(plain(1024n, 2) + plain(1024n, 3)).toBeGreaterThan(plain(1024n, 2));
    const { honest, split } = sybilGain(1024n, 2, 3, 2);
    expect(split).toBeLessThan(honest);
  });

  it('payouts: one per node key (a key twice on a route is one party), zero shares left out', () => {
    const route = [hop(1), hop(2), hop(1)];
    const p = routePayouts(64n, route);
    expect(p.map((x) => [x.node[0], x.amount])).toEqual([
      [1, 2n + 8n],
      [2, 4n],
    ]);
    expect(routePayouts(1n, route)).toEqual([]);
    expect(() => routeShares(1n, MAX_PAID_HOPS + 1)).toThrow(RangeError);
  });
});

describe('a settlement pays the signed route from the entry node (swap-owner rule 4)', () => {
  const node = (n: number) => createSigner(sha256(Uint8Array.of(200 + n)));
  const [entry, middle, solverNode] = [node(1), node(2), node(3)];
  const a = held(users[0]!, X, 100n, 'route a');
  const b = held(users[1]!, Y, 100n, 'route b');
  const float = [held(solver, X, 1_000n, 'route float x'), held(solver, Y, 1_000n, 'route float y')];
  const ia = intentOf(users[0]!, [a], {
    give: [X, 100n],
    want: [Y, 90n],
    routeFee: 64n,
    entry: entry.publicKey,
  });
  const ib = intentOf(users[1]!, [b], { give: [Y, 100n], want: [X, 90n] });
  const body = swapIntentBody(ia);
  const id = gossipIntentId(body);
  // entry -> middle -> the solver's node
  const route = appendHop(
    appendHop({ body, route: [] }, id, entry, middle.publicKey),
    id,
    middle,
    solverNode.publicKey,
  ).route;
  const proof: RouteProof = { expiresAt: null, route, solverNode: solverNode.publicKey };
  /** the notes, and the token owner code of the route's nodes (a payout goes to their token accounts) */
  const stored = () => {
    const store = storeWith([a, b, ...float]);
    registerTokenCode(
      store,
      tokenA,
      [entry, middle, solverNode].map((n) => n.publicKey),
    );
    return store;
  };
  const settle = (p: RouteProof | undefined) => {
    const solved = solveBatch([orderOf(ia), orderOf(ib)]);
    if (!solved.ok) throw new Error(solved.reason);
    const offers = new Map<string, OfferedIntent>([
      [orderOf(ia).id, { intent: ia, notes: [a], ...(p === undefined ? {} : { route: p }) }],
      [orderOf(ib).id, { intent: ib, notes: [b] }],
    ]);
    return settlementTx({
      settlement: solved.settlement,
      offers,
      solver: { secretKey: solver.secretKey, notes: float },
    });
  };

  it('pays each node its share in the wanted asset; the owner still gets its limit', () => {
    expect(routeViolation(ia, proof, verify)).toBeUndefined();
    const built = settle(proof);
    if (!built.ok) throw new Error(built.reason);
    const { result, after } = run(stored(), [built.tx]);
    expect(result.receipts[0]).toMatchObject({ accepted: true });
    const paidTo = (k: Uint8Array) =>
      after
        .filter((n) => toHex(n.owner) === toHex(ownerCommitment(k)))
        .map((n) => tokenValueOf(n.value)!.amount);
    // two hops: the middle node (nearest the solver) 64 / 2^2, the entry node 64 / 2^3
    expect(paidTo(middle.publicKey)).toEqual([16n]);
    expect(paidTo(entry.publicKey)).toEqual([8n]);
    expect(balance(after, users[0]!, Y) >= 90n).toBe(true);
    expect(supply(after, Y)).toBe(supply([a, b, ...float], Y));
  });

  it('refuses a settlement that does not pay the route, pays it along a forged or reordered route, or starts elsewhere', () => {
    expect(settle(undefined)).toMatchObject({ ok: false });
    const store = stored();
    const built = settle(proof);
    if (!built.ok) throw new Error(built.reason);
    const d = declaredOf(built.tx);
    const payload = decode(SwapPayload, d.payload);
    const rebuilt = (outputs: typeof d.outputs, routes: (RouteProof | null)[]) =>
      swapTx(
        float.concat([a, b]).filter((n) => d.inputs.some((k) => toHex(k) === toHex(noteKey(n)))),
        outputs,
        payload.intents,
        [solver.secretKey],
        routes,
      );
    const rejected = (tx: ReturnType<typeof swapTx>) =>
      run(store, [tx]).result.receipts[0]!.accepted === false;
    const at = payload.intents.findIndex((i) => toHex(i.terms.owner) === toHex(users[0]!.publicKey));
    const routesWith = (p: RouteProof | null) => payload.intents.map((_, k) => (k === at ? p : null));
    // the honest transaction, rebuilt, passes
    expect(rejected(rebuilt(d.outputs, routesWith(proof)))).toBe(false);
    // the reward notes left out (the solver keeps them)
    const noRewards = d.outputs.filter((n) => toHex(n.owner) !== toHex(ownerCommitment(middle.publicKey)));
    expect(rejected(rebuilt(noRewards, routesWith(proof)))).toBe(true);
    // no route in the payload
    expect(rejected(rebuilt(d.outputs, routesWith(null)))).toBe(true);
    // the hops reordered, or a hop's signature from another intent
    const reordered: RouteProof = { ...proof, route: [route[1]!, route[0]!] };
    expect(routeViolation(ia, reordered, verify)).toBeDefined();
    expect(rejected(rebuilt(d.outputs, routesWith(reordered)))).toBe(true);
    const forged: RouteProof = {
      ...proof,
      route: [route[0]!, { ...route[1]!, signature: route[0]!.signature }],
    };
    expect(routeViolation(ia, forged, verify)).toMatch(/forged/);
    // a route of the solver's own, not from the owner's entry node
    const own = appendHop({ body, route: [] }, id, solverNode, solverNode.publicKey).route;
    expect(routeViolation(ia, { ...proof, route: own }, verify)).toMatch(/entry node/);
  });
});
