/**
 * Test helpers for the swap solver: a brute force of the volume problem at fixed prices, and the
 * objective both solvers maximise, to compare them by.
 */
import fc from 'fast-check';
import { Random } from '../../runtime/random.ts';
import { eligible, type Order, type Prices } from './auction.ts';
import { DEFAULT_FLOW_OPTIONS, gainPerValue } from './flow.ts';

const ASSETS = ['a', 'b', 'c', 'd', 'e'];

/** An order over five assets, partial or fill-or-kill, with limits up to 10^6 units. */
export const anyOrder = (id: number) =>
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

/** A batch of 1 to `max` such orders. */
export const anyBatch = (max: number) =>
  fc.integer({ min: 1, max }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => anyOrder(i))));

/**
 * `n` orders over `assets` assets (a0, a1, ...), half fill-or-kill, amounts up to 10^6 spread
 * evenly in log scale, limits within −6%..+4% of hidden reference prices, so that many rings can
 * clear: batches like the solver bench's, seeded.
 */
export function randomOrders(n: number, assets: number, seed: string): Order[] {
  const r = new Random(seed);
  const reference = Array.from({ length: assets }, () => Math.exp(r.float() * Math.log(1000)));
  return Array.from({ length: n }, (_, i) => {
    const x = r.int(assets);
    const y = (x + 1 + r.int(assets - 1)) % assets;
    const give = BigInt(Math.max(1, Math.floor(Math.exp(r.float() * Math.log(1e6)))));
    const rate = (reference[x]! / reference[y]!) * (0.94 + r.float() * 0.1);
    const want = BigInt(Math.max(1, Math.round(Number(give) * rate)));
    return { id: `i${i}`, sell: `a${x}`, buy: `a${y}`, give, want, partial: r.bool() };
  });
}

/** Σ (gain + volumeWeight)·value over the eligible orders: what flow.ts and exact.ts maximise. */
export function volumeObjective(
  orders: readonly Order[],
  prices: Prices,
  flows: ReadonlyMap<string, bigint>,
): number {
  let total = 0;
  for (const o of orders)
    if (eligible(o, prices))
      total += (gainPerValue(o, prices) + DEFAULT_FLOW_OPTIONS.volumeWeight) * Number(flows.get(o.id) ?? 0n);
  return total;
}

/**
 * Brute force of the volumes at fixed prices: every vertex of the flow polytope (each partial order
 * at 0, at capacity, or free, the free ones a forest solved exactly by peeling leaves; each
 * fill-or-kill order at 0 or at capacity only), the best by the objective the solvers maximise.
 * The optimum of a linear objective over the partial orders, for each choice of fill-or-kill
 * orders, lies at such a vertex, so this is the exact optimum of the mixed-integer problem.
 * 3^(orders) states: tiny batches only.
 */
export function bruteForceObjective(orders: readonly Order[], prices: Prices): number {
  const es = orders.filter((o) => eligible(o, prices));
  const cap = es.map((o) => prices.get(o.sell)! * o.give);
  const weight = es.map((o) => gainPerValue(o, prices) + DEFAULT_FLOW_OPTIONS.volumeWeight);
  const radix = es.map((o) => (o.partial ? 3 : 2));
  let best = 0;
  const states = es.map(() => 0);
  const total = radix.reduce((a, b) => a * b, 1);
  for (let code = 0; code < total; code++) {
    let c = code;
    for (let i = 0; i < es.length; i++) {
      states[i] = c % radix[i]!;
      c = Math.floor(c / radix[i]!);
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
