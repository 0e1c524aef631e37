import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { eligible, type Order, type Prices, ringClears, settlementViolation } from './auction.ts';
import { anyBatch, bruteForceObjective, volumeObjective } from './auction-testing.ts';
import { flowsAtPrices } from './flow.ts';
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

describe('volumes at fixed prices', () => {
  it('reach the brute-force optimum on small batches of partial orders', () => {
    let trading = 0;
    fc.assert(
      fc.property(anyBatch(6), (raw) => {
        const orders = raw.map((o) => ({ ...o, partial: true }));
        const { prices } = clearingPrices(orders);
        if (prices.size === 0) return;
        const flows = flowsAtPrices(orders, prices);
        const got = volumeObjective(orders, prices, flows);
        const best = bruteForceObjective(orders, prices);
        if (best > 0) trading++;
        expect(Math.abs(got - best)).toBeLessThanOrEqual(1e-9 * Math.max(1, best));
      }),
      propParams('apps.swap.flow-optimum', 200),
    );
    expect(trading).toBeGreaterThan(0);
  });
});
