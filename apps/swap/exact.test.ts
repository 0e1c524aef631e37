import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { dustOf, type Order, settlementViolation } from './auction.ts';
import { anyBatch, bruteForceObjective, randomOrders, volumeObjective } from './auction-testing.ts';
import { DEFAULT_EXACT_OPTIONS, type ExactSolver, ExactSolverError, loadExactSolver } from './exact.ts';
import { flowsAtPrices, settle } from './flow.ts';
import { clearingPrices } from './prices.ts';
import { DEFAULT_SOLVE_OPTIONS, solveBatch } from './solve.ts';

const byId = (orders: readonly Order[]) => new Map(orders.map((o) => [o.id, o]));

/** Per asset, value in minus value out under `flows`: zero everywhere for a circulation. */
function imbalance(orders: readonly Order[], flows: ReadonlyMap<string, bigint>): bigint[] {
  const net = new Map<string, bigint>();
  for (const o of orders) {
    const f = flows.get(o.id) ?? 0n;
    net.set(o.buy, (net.get(o.buy) ?? 0n) + f);
    net.set(o.sell, (net.get(o.sell) ?? 0n) - f);
  }
  return [...net.values()].filter((d) => d !== 0n);
}

let exact: ExactSolver;
beforeAll(async () => {
  exact = await loadExactSolver();
});

describe('exact volumes (HiGHS)', () => {
  it('reach the brute-force optimum on small batches of partial and fill-or-kill orders', () => {
    let withFillOrKill = 0;
    fc.assert(
      fc.property(anyBatch(7), (orders) => {
        const { prices } = clearingPrices(orders);
        if (prices.size === 0) return;
        const got = exact.solveVolumes(orders, prices);
        const best = bruteForceObjective(orders, prices);
        // HiGHS's tolerances are relative, about 1e-9: volumeWeight ties (1e-9) are below them
        expect(Math.abs(got.objective - best)).toBeLessThanOrEqual(1e-7 * Math.max(1, best));
        expect(Math.abs(got.reported - got.objective)).toBeLessThanOrEqual(1e-7 * Math.max(1, best));
        // exact flows: conserved per asset, fill-or-kill all or nothing, partial within capacity
        expect(imbalance(orders, got.flows)).toEqual([]);
        for (const o of orders) {
          const f = got.flows.get(o.id) ?? 0n;
          const cap = (prices.get(o.sell) ?? 0n) * o.give;
          expect(f >= 0n && f <= cap).toBe(true);
          if (!o.partial) expect(f === 0n || f === cap).toBe(true);
          if (!o.partial && f > 0n) withFillOrKill++;
        }
        // the flows settle within every rule, and the relaxation bounds the optimum
        expect(settlementViolation(byId(orders), settle(byId(orders), prices, got.flows))).toBeUndefined();
        expect(exact.relaxationBound(orders, prices)).toBeGreaterThanOrEqual(best - 1e-7 * Math.max(1, best));
        // a small batch's proven bound is its optimum (branch and bound finishes)
        const pb = exact.provenBound(orders, prices, 5);
        expect(Math.abs(pb - best)).toBeLessThanOrEqual(1e-6 * Math.max(1, best));
        // the heuristic never beats the optimum
        const heuristic = volumeObjective(orders, prices, flowsAtPrices(orders, prices));
        expect(heuristic).toBeLessThanOrEqual(got.objective + 1e-7 * Math.max(1, best));
      }),
      propParams('apps.swap.exact-optimum', 200),
    );
    expect(withFillOrKill).toBeGreaterThan(0);
  });

  it('takes the fill-or-kill pair that dropping part-filled orders loses', () => {
    // at 1:1 prices the relaxation fills y with x (the better gain) and w with the rest of y; w
    // is part-filled, and dropping it would leave y part-filled too: nothing would trade. The
    // optimum is w and y, all of both, which flow.ts's dive finds by rounding w up (x yields).
    const orders: Order[] = [
      { id: 'x', sell: 'a', buy: 'b', give: 6n, want: 5n, partial: true },
      { id: 'w', sell: 'a', buy: 'b', give: 10n, want: 9n, partial: false },
      { id: 'y', sell: 'b', buy: 'a', give: 10n, want: 9n, partial: false },
    ];
    const prices = new Map([
      ['a', 1n],
      ['b', 1n],
    ]);
    expect(flowsAtPrices(orders, prices)).toEqual(
      new Map([
        ['w', 10n],
        ['y', 10n],
      ]),
    );
    const got = exact.solveVolumes(orders, prices);
    expect(got.flows).toEqual(
      new Map([
        ['w', 10n],
        ['y', 10n],
      ]),
    );
    expect(got.objective).toBeCloseTo(2 * (1 - 9 / 10) * 10, 6);
    const r = solveBatch(orders, { ...DEFAULT_SOLVE_OPTIONS, exact });
    expect(r.ok && r.method).toBe('exact');
    expect(r.ok && r.settlement.fills.map((f) => f.id).sort()).toEqual(['w', 'y']);
  });

  it('the heuristic reaches the optimum on mid-size batches whose rounding needs orders to yield', () => {
    // in flow.ts's dives a part-filled order has no route either way unless an order already
    // rounded up yields some of its flow (without that: 99.4% and 98.2% of the optimum)
    for (const [n, assets, seed] of [
      [101, 17, 'd71'],
      [173, 14, 'd143'],
    ] as const) {
      const orders = randomOrders(n, assets, seed);
      const { prices } = clearingPrices(orders);
      const optimum = exact.solveVolumes(orders, prices).objective;
      const heuristic = volumeObjective(orders, prices, flowsAtPrices(orders, prices));
      // HiGHS's optimum holds within its tolerances, about 1e-6 relative: the heuristic may pass it
      expect(heuristic).toBeGreaterThanOrEqual(optimum * (1 - 1e-6));
    }
  });

  it('keeps conservation exact with amounts and prices far beyond 2^53', () => {
    // a three-ring of amounts near 10^30 at prices near 10^40, and a partial order beside the
    // fill-or-kill one that the ring has room for too
    const big = 10n ** 30n;
    const orders: Order[] = [
      { id: 'r0', sell: 'a', buy: 'b', give: big + 7n, want: big - 3n, partial: false },
      { id: 'r1', sell: 'b', buy: 'c', give: 2n * big + 11n, want: 2n * big - 5n, partial: true },
      { id: 'r2', sell: 'c', buy: 'a', give: 2n * big + 1n, want: 2n * big - 2n, partial: true },
      { id: 'p0', sell: 'a', buy: 'b', give: big / 3n, want: big / 4n, partial: true },
    ];
    const prices = new Map([
      ['a', 10n ** 40n + 17n],
      ['b', 10n ** 40n + 3n],
      ['c', 10n ** 40n + 29n],
    ]);
    const got = exact.solveVolumes(orders, prices);
    expect(got.flows.get('r0')).toBe(prices.get('a')! * (big + 7n));
    expect(got.flows.get('p0')).toBe(prices.get('a')! * (big / 3n));
    expect(got.flows.get('r1')).toBe(got.flows.get('r0')! + got.flows.get('p0')!);
    expect(imbalance(orders, got.flows)).toEqual([]);
    const s = settle(byId(orders), prices, got.flows);
    expect(settlementViolation(byId(orders), s)).toBeUndefined();
    expect(s.fills.length).toBeGreaterThanOrEqual(3);
    for (const d of dustOf(byId(orders), s.fills).values()) expect(d >= 0n).toBe(true);
  });

  it('refuses a model over its size limit, and reports a HiGHS limit as a typed error', async () => {
    const small = await loadExactSolver({ ...DEFAULT_EXACT_OPTIONS, maxOrders: 1 });
    const orders: Order[] = [
      { id: 'x', sell: 'a', buy: 'b', give: 10n, want: 9n, partial: true },
      { id: 'y', sell: 'b', buy: 'a', give: 10n, want: 9n, partial: false },
    ];
    const prices = new Map([
      ['a', 1n],
      ['b', 1n],
    ]);
    expect(() => small.solveVolumes(orders, prices)).toThrow(ExactSolverError);
    expect(() => small.solveVolumes(orders, prices)).toThrow(/more than 1/);
    // a MIP too large for presolve alone, given no time at all
    const busy: Order[] = Array.from({ length: 60 }, (_, i) => ({
      id: `m${i}`,
      sell: `a${i % 5}`,
      buy: `a${(i % 5) + 1 + (i % 4 === 1 ? 1 : 0) > 4 ? 0 : (i % 5) + 1}`,
      give: BigInt(1000 + ((i * 7919) % 997)),
      want: BigInt(900 + ((i * 104729) % 991)),
      partial: i % 4 === 0,
    }));
    const ones = new Map(['a0', 'a1', 'a2', 'a3', 'a4'].map((a): [string, bigint] => [a, 1n]));
    expect(exact.solveVolumes(busy, ones).flows.size).toBeGreaterThan(0);
    const hurried = await loadExactSolver({ ...DEFAULT_EXACT_OPTIONS, timeLimitSeconds: 0 });
    let failure: unknown;
    try {
      hurried.solveVolumes(busy, ones);
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeInstanceOf(ExactSolverError);
    expect((failure as ExactSolverError).failure).toBe('not-optimal');
    expect(String(failure)).toMatch(/time limit/);
  });

  it('solveBatch with the exact solver keeps every rule, and uses it up to its threshold', () => {
    let exactly = 0;
    fc.assert(
      fc.property(anyBatch(10), (orders) => {
        const r = solveBatch(orders, { ...DEFAULT_SOLVE_OPTIONS, exact });
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(settlementViolation(byId(orders), r.settlement)).toBeUndefined();
        expect(r.surplus).toBeGreaterThanOrEqual(0);
        if (r.method === 'exact') exactly++;
      }),
      propParams('apps.swap.solve-exact-rules', 100),
    );
    expect(exactly).toBeGreaterThan(0);
    // over the threshold the heuristic answers, with or without an exact solver
    const { prices } = clearingPrices([]);
    expect(prices.size).toBe(0);
    const many: Order[] = Array.from({ length: DEFAULT_SOLVE_OPTIONS.exactUpTo + 1 }, (_, i) => ({
      id: `m${i}`,
      sell: i % 2 === 0 ? 'a' : 'b',
      buy: i % 2 === 0 ? 'b' : 'a',
      give: 10n,
      want: 9n,
      partial: i % 3 === 0,
    }));
    const r = solveBatch(many, { ...DEFAULT_SOLVE_OPTIONS, exact });
    expect(r.ok && r.method).toBe('heuristic');
    expect(r.ok && r.settlement.fills.length).toBeGreaterThan(0);
  });
});
