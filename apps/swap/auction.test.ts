import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { eligible, type Order, type Prices, ringClears, settlementViolation } from './auction.ts';
import { DEFAULT_FLOW_OPTIONS, flowsAtPrices, gainPerValue } from './flow.ts';
import { clearingPrices, DEFAULT_PRICE_OPTIONS, pricesServing, servable } from './prices.ts';
import { solveBatch } from './solve.ts';

const ASSETS = ['a', 'b', 'c', 'd', 'e'];

/** A ring over distinct assets: order i sells asset i and buys asset i+1 (the last buys the first). */
function ring(limits: readonly (readonly [bigint, bigint])[], partial = true): Order[] {
  return limits.map(([give, want], i) => ({
    id: `r${i}`,
    sell: ASSETS[i]!,
    buy: ASSETS[(i + 1) % limits.length]!,
    give,
    want,
    partial,
  }));
}

const byId = (orders: readonly Order[]) => new Map(orders.map((o) => [o.id, o]));

const anyOrder = (id: number) =>
  fc
    .record({
      sell: fc.integer({ min: 0, max: 4 }),
      step: fc.integer({ min: 1, max: 4 }),
      give: fc.bigInt({ min: 1n, max: 1_000_000n }),
      want: fc.bigInt({ min: 1n, max: 1_000_000n }),
      partial: fc.boolean(),
    })
    .map(
      (r): Order => ({
        id: `o${id}`,
        sell: ASSETS[r.sell]!,
        buy: ASSETS[(r.sell + r.step) % 5]!,
        give: r.give,
        want: r.want,
        partial: r.partial,
      }),
    );
const anyBatch = (max: number) =>
  fc.integer({ min: 1, max }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => anyOrder(i))));

describe('clearing prices', () => {
  it('ring condition: clears exactly when the product of the limit prices is at most 1', () => {
    expect(
      ringClears(
        ring([
          [2n, 3n],
          [3n, 2n],
        ]),
      ),
    ).toBe(true);
    expect(
      ringClears(
        ring([
          [2n, 3n],
          [3n, 3n],
        ]),
      ),
    ).toBe(false);
    expect(() =>
      ringClears([
        ring([
          [2n, 3n],
          [3n, 2n],
        ])[0]!,
        ring([
          [1n, 1n],
          [1n, 1n],
          [1n, 1n],
        ])[2]!,
      ]),
    ).toThrow(/does not buy/);
  });

  it('serve a set of orders exactly when no ring among them asks more than it gives', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.bigInt({ min: 1n, max: 1000n }), fc.bigInt({ min: 1n, max: 1000n })), {
          minLength: 2,
          maxLength: 5,
        }),
        (limits) => {
          const orders = ring(limits);
          const prices = pricesServing(orders);
          expect(prices !== undefined).toBe(ringClears(orders));
          if (prices !== undefined) for (const o of orders) expect(eligible(o, prices)).toBe(true);
        },
      ),
      propParams('apps.swap.prices-serving', 300),
    );
  });
});

describe('servable', () => {
  it('agrees with the exact test, on the boundary too', () => {
    // limits near 1 so that rings often sit within float noise of ∏W = ∏G, and exact boundaries
    const near = fc
      .tuple(fc.bigInt({ min: 1n, max: 10n ** 30n }), fc.integer({ min: -2, max: 2 }))
      .map(([g, d]): [bigint, bigint] => [g, g + BigInt(d) > 0n ? g + BigInt(d) : g]);
    let feasible = 0;
    let infeasible = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 4 }), near), {
          minLength: 1,
          maxLength: 10,
        }),
        (raw) => {
          const orders = raw.map(
            ([sell, step, [give, want]], i): Order => ({
              id: `o${i}`,
              sell: ASSETS[sell]!,
              buy: ASSETS[(sell + step) % 5]!,
              give,
              want,
              partial: true,
            }),
          );
          const exact = pricesServing(orders) !== undefined;
          expect(servable(orders)).toBe(exact);
          if (exact) feasible++;
          else infeasible++;
        },
      ),
      propParams('apps.swap.servable', 300),
    );
    expect(Math.min(feasible, infeasible)).toBeGreaterThan(0);
  });
});

describe('settlement rules', () => {
  const x: Order = { id: 'x', sell: 'a', buy: 'b', give: 10n, want: 5n, partial: true };
  const y: Order = { id: 'y', sell: 'b', buy: 'a', give: 10n, want: 10n, partial: false };
  const orders = byId([x, y]);
  const prices = new Map([
    ['a', 2n],
    ['b', 3n],
  ]);
  // x sells 9 a (worth 18) for 6 b (18); y sells 10 b (30) for 15 a: a is short by 6 units
  const check = (fills: { id: string; sold: bigint; bought: bigint }[], p: Prices = prices) =>
    settlementViolation(orders, { prices: p, fills });

  it('names each broken rule', () => {
    expect(check([{ id: 'z', sold: 1n, bought: 1n }])).toBe('fill of unknown order z');
    expect(
      check([
        { id: 'x', sold: 3n, bought: 2n },
        { id: 'x', sold: 3n, bought: 2n },
      ]),
    ).toBe('order x filled twice');
    expect(check([{ id: 'y', sold: 5n, bought: 8n }])).toBe('order y fills a fill-or-kill intent in part');
    expect(check([{ id: 'x', sold: 9n, bought: 5n }])).toBe(
      'order x buys less than the clearing price gives',
    );
    expect(check([{ id: 'x', sold: 9n, bought: 8n }])).toBe('order x buys more than rounding allows');
    expect(check([{ id: 'x', sold: 9n, bought: 6n }])).toBe('the fills sell 9 more of a than they buy');
    expect(check([], new Map([['a', 0n]]))).toBe('price of a is not positive');
    expect(check([{ id: 'x', sold: 9n, bought: 6n }], new Map([['a', 2n]]))).toBe(
      'order x trades an asset without a price',
    );
    // at 1:1 prices y's limit (10 a for 10 b) holds but x's does not bind; x at 1 a per 2 b breaks its limit
    expect(
      check(
        [{ id: 'x', sold: 10n, bought: 4n }],
        new Map([
          ['a', 2n],
          ['b', 5n],
        ]),
      ),
    ).toBe('order x buys less than the limit price');
  });

  it('accepts a balanced settlement whose dust the solver pays', () => {
    // x sells 10 a for 7 b (20/3 rounded up), y sells 10 b for 15 a: a short of 5 is not allowed,
    // but x selling 10 and y buying 15 leaves the fills buying 5 more a than they sell: dust
    expect(
      check([
        { id: 'x', sold: 10n, bought: 7n },
        { id: 'y', sold: 10n, bought: 15n },
      ]),
    ).toBe('the fills sell 3 more of b than they buy');
  });
});

describe('the batch solver', () => {
  it('every settlement keeps every rule, and its surplus is not negative', () => {
    fc.assert(
      fc.property(anyBatch(14), (orders) => {
        const r = solveBatch(orders);
        expect(r).toMatchObject({ ok: true });
        if (!r.ok) return;
        expect(settlementViolation(byId(orders), r.settlement)).toBeUndefined();
        expect(r.surplus).toBeGreaterThanOrEqual(0);
      }),
      propParams('apps.swap.solve-rules', 200),
    );
  });

  it('a ring is settled when and only when the product of its limit prices allows it', () => {
    // limits within a factor 4 and at least 10^4 units given: whole units never bind; rings up to
    // the longest the solver looks for
    const L = DEFAULT_PRICE_OPTIONS.maxRing;
    const limit = fc
      .tuple(fc.bigInt({ min: 10_000n, max: 1_000_000n }), fc.integer({ min: -200, max: 200 }))
      .map(([give, pct]): [bigint, bigint] => [give, (give * BigInt(100 + pct)) / 100n + 1n]);
    const boundary = fc
      .array(fc.bigInt({ min: 10_000n, max: 1_000_000n }), { minLength: 2, maxLength: L })
      .map((gives) => gives.map((g, i): [bigint, bigint] => [g, gives[(i + 1) % gives.length]!])); // ∏W = ∏G
    let settled = 0;
    fc.assert(
      fc.property(fc.oneof(fc.array(limit, { minLength: 2, maxLength: L }), boundary), (limits) => {
        const orders = ring(limits);
        const r = solveBatch(orders);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        const filled = new Set(r.settlement.fills.map((f) => f.id));
        expect(filled.size === orders.length).toBe(ringClears(orders));
        if (filled.size === orders.length) settled++;
        if (!ringClears(orders)) expect(filled.size).toBe(0);
      }),
      propParams('apps.swap.ring-found', 200),
    );
    expect(settled).toBeGreaterThan(0);
  });

  it('two opposite orders match, and each keeps its limit', () => {
    const orders: Order[] = [
      { id: 'x', sell: 'a', buy: 'b', give: 10n, want: 5n, partial: false },
      { id: 'y', sell: 'b', buy: 'a', give: 8n, want: 10n, partial: true },
    ];
    const r = solveBatch(orders);
    expect(r.ok && r.settlement.fills.length).toBe(2);
  });
});

/**
 * Brute force of the volumes at fixed prices: every vertex of the flow polytope (each order at 0,
 * at capacity, or free, the free ones a forest solved exactly by peeling leaves), the best by the
 * same objective the solver maximises.
 */
function bruteForceObjective(orders: readonly Order[], prices: Prices): number {
  const es = orders.filter((o) => eligible(o, prices));
  const cap = es.map((o) => prices.get(o.sell)! * o.give);
  const weight = es.map((o) => gainPerValue(o, prices) + DEFAULT_FLOW_OPTIONS.volumeWeight);
  let best = 0;
  const states = es.map(() => 0);
  const total = 3 ** es.length;
  for (let code = 0; code < total; code++) {
    let c = code;
    for (let i = 0; i < es.length; i++) {
      states[i] = c % 3;
      c = Math.floor(c / 3);
    }
    const flow = es.map((_, i) => (states[i] === 1 ? cap[i]! : 0n));
    // net inflow each asset needs from the free orders
    const need = new Map<string, bigint>();
    for (let i = 0; i < es.length; i++) {
      need.set(es[i]!.buy, (need.get(es[i]!.buy) ?? 0n) - flow[i]!);
      need.set(es[i]!.sell, (need.get(es[i]!.sell) ?? 0n) + flow[i]!);
    }
    const free = new Set(es.map((_, i) => i).filter((i) => states[i] === 2));
    let ok = true;
    while (free.size > 0 && ok) {
      // a leaf: an asset touched by exactly one free order fixes that order's flow
      const degree = new Map<string, number[]>();
      for (const i of free)
        for (const a of [es[i]!.sell, es[i]!.buy]) degree.set(a, [...(degree.get(a) ?? []), i]);
      const leaf = [...degree].find(([, list]) => list.length === 1);
      if (leaf === undefined) {
        ok = false; // a cycle of free orders: not a vertex
        break;
      }
      const [asset, [i]] = leaf as [string, [number]];
      const o = es[i]!;
      // the free order must bring `need` into the asset (as the buyer) or take it out (as the seller)
      const f = o.buy === asset ? need.get(asset)! : -need.get(asset)!;
      if (f < 0n || f > cap[i]!) ok = false;
      flow[i] = f;
      need.set(o.buy, need.get(o.buy)! - f);
      need.set(o.sell, need.get(o.sell)! + f);
      free.delete(i);
    }
    if (!ok || [...need.values()].some((x) => x !== 0n)) continue;
    const value = es.reduce((sum, _, i) => sum + weight[i]! * Number(flow[i]!), 0);
    if (value > best) best = value;
  }
  return best;
}

describe('volumes at fixed prices', () => {
  it('reach the brute-force optimum on small batches of partial orders', () => {
    let trading = 0;
    fc.assert(
      fc.property(anyBatch(6), (raw) => {
        const orders = raw.map((o) => ({ ...o, partial: true }));
        const { prices } = clearingPrices(orders);
        if (prices.size === 0) return;
        const flows = flowsAtPrices(orders, prices);
        const got = orders.reduce(
          (sum, o) =>
            sum +
            (eligible(o, prices)
              ? (gainPerValue(o, prices) + DEFAULT_FLOW_OPTIONS.volumeWeight) * Number(flows.get(o.id) ?? 0n)
              : 0),
          0,
        );
        const best = bruteForceObjective(orders, prices);
        if (best > 0) trading++;
        expect(Math.abs(got - best)).toBeLessThanOrEqual(1e-9 * Math.max(1, best));
      }),
      propParams('apps.swap.flow-optimum', 200),
    );
    expect(trading).toBeGreaterThan(0);
  });
});
