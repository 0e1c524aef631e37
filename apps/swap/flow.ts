/**
 * Volumes at given clearing prices (README.md, "Batch auctions"): how much each eligible order
 * trades so that, per asset, the value sold equals the value bought, and the batch's surplus is
 * as large as it can be. Then the whole units each owner sells and buys, rounded in the owner's
 * favour, with the solver paying the dust.
 *
 * At fixed prices this is a maximum-weight circulation: assets are nodes, an eligible order is an
 * edge X -> Y carrying value (pX per unit sold) up to pX·G, and each unit of value it carries
 * earns g = 1 − W·pY/(G·pX) of surplus. Negative-cycle cancelling on the residual graph finds
 * the optimum for partial orders: for each ordered asset pair only the residual edge of least cost
 * can lie on a best cycle, so Bellman-Ford runs on at most |assets|² edges whatever the number of
 * orders. Within a pair the flow fills orders cheapest first, so a pair is held as a prefix of full
 * orders and one part-filled (`Pair`), and each search costs O(|assets|³) whatever the number of
 * orders. Fill-or-kill orders left part-filled are resolved two ways and the better result kept:
 * dropped and the rest solved again; or first given priority over every other order (filled before
 * anything else), and dropped only if even then part-filled. exact.ts solves this part exactly.
 *
 * Every unit of value also earns `volumeWeight` (1e-9): among solutions of equal surplus the one
 * trading more wins, so a ring whose limits leave no surplus at all (∏W = ∏G) still trades.
 */
import {
  assetIndex,
  boughtRange,
  eligible,
  type Order,
  type OrderFill,
  type Prices,
  type Settlement,
} from './auction.ts';

export interface FlowOptions {
  /** cycle cancellations at most, per solve (a limit on the search) */
  readonly maxCancels: number;
  readonly volumeWeight: number;
  /** also try giving part-filled fill-or-kill orders priority, and keep the better result */
  readonly forceFillOrKill: boolean;
  /**
   * local improvement: unfilled fill-or-kill orders (the most valuable first) are each tried forced
   * in beside those already filled, a try kept when it raises the objective. Each try solves the
   * batch again (time about n² for n orders), so a batch gets `fillOrKillBudget / n²` tries: 40 at
   * 1,000 orders, none at 10,000
   */
  readonly fillOrKillBudget: number;
}

export const DEFAULT_FLOW_OPTIONS: FlowOptions = {
  maxCancels: 200_000,
  volumeWeight: 1e-9,
  forceFillOrKill: true,
  fillOrKillBudget: 40_000_000,
};

/** The smaller of two bigints (Math.min takes numbers only). */
function smaller(a: bigint, b: bigint): bigint {
  if (a < b) return a;
  return b;
}

/** a/b as a float, for a <= b (a ratio of bigints of any size) */
function ratio(a: bigint, b: bigint): number {
  return Number((a << 53n) / b) / 2 ** 53;
}

/** The surplus one unit of value carried by `o` earns at these prices. */
export function gainPerValue(o: Order, prices: Prices): number {
  const ps = prices.get(o.sell)!;
  const pb = prices.get(o.buy)!;
  return 1 - ratio(o.want * pb, o.give * ps);
}

interface Edge {
  readonly order: Order;
  readonly cap: bigint;
  readonly cost: number;
}

/**
 * The orders of one ordered asset pair, cheapest first. A best cycle only ever pushes onto the
 * cheapest order with room and takes back from the dearest with some flow, so the pair's flow is
 * always a prefix: orders before `next` full, `next` holding `part`, the rest empty.
 */
interface Pair {
  readonly from: number;
  readonly to: number;
  readonly edges: readonly Edge[];
  next: number;
  part: bigint;
}

/** A residual arc: more flow onto a pair (forward) or less (backward), at this cost per unit. */
interface Arc {
  readonly pair: Pair;
  readonly forward: boolean;
  readonly cost: number;
  readonly room: bigint;
}

/**
 * Value carried by each order (only those with some) in a maximum-surplus circulation at `prices`.
 * Orders not eligible at the prices carry nothing.
 */
export function flowsAtPrices(
  orders: readonly Order[],
  prices: Prices,
  opts: FlowOptions = DEFAULT_FLOW_OPTIONS,
): Map<string, bigint> {
  const eligibleOrders = orders.filter((o) => eligible(o, prices));
  const dropping = resolveFillOrKill(eligibleOrders, prices, opts, false);
  if (!opts.forceFillOrKill) return dropping;
  const forcing = resolveFillOrKill(eligibleOrders, prices, opts, true);
  let best =
    objectiveOf(eligibleOrders, prices, forcing, opts) > objectiveOf(eligibleOrders, prices, dropping, opts)
      ? forcing
      : dropping;
  let bestValue = objectiveOf(eligibleOrders, prices, best, opts);
  // local improvement: the fill-or-kill orders left out, most valuable first, one at a time
  const capacity = (o: Order) => prices.get(o.sell)! * o.give;
  const untried = eligibleOrders
    .filter((o) => !o.partial && (best.get(o.id) ?? 0n) === 0n)
    .map((o) => ({ o, worth: gainPerValue(o, prices) * Number(capacity(o)) }))
    .sort((a, b) => b.worth - a.worth || (a.o.id < b.o.id ? -1 : 1))
    .slice(0, Math.floor(opts.fillOrKillBudget / Math.max(1, eligibleOrders.length) ** 2));
  for (const { o } of untried) {
    const held = eligibleOrders.filter((x) => !x.partial && (best.get(x.id) ?? 0n) > 0n).map((x) => x.id);
    const tried = resolveFillOrKill(eligibleOrders, prices, opts, true, [...held, o.id]);
    const value = objectiveOf(eligibleOrders, prices, tried, opts);
    if (value > bestValue) {
      best = tried;
      bestValue = value;
    }
  }
  return best;
}

function objectiveOf(
  orders: readonly Order[],
  prices: Prices,
  flows: ReadonlyMap<string, bigint>,
  opts: FlowOptions,
): number {
  let total = 0;
  for (const o of orders) {
    const f = flows.get(o.id);
    if (f !== undefined) total += (gainPerValue(o, prices) + opts.volumeWeight) * Number(f);
  }
  return total;
}

/**
 * Circulations until no fill-or-kill order is left part-filled. Dropping: each part-filled one
 * leaves and the rest is solved again. Forcing: a part-filled one first gets priority over every
 * other order (the circulation fills it before anything else), and leaves only when even then it
 * ends part-filled; one already full keeps its priority, so later rounds cannot undo it.
 */
function resolveFillOrKill(
  eligibleOrders: readonly Order[],
  prices: Prices,
  opts: FlowOptions,
  force: boolean,
  forcedFirst: readonly string[] = [],
): Map<string, bigint> {
  let active = eligibleOrders;
  const forced = new Set<string>(forcedFirst);
  for (let round = 0; round <= 2 * eligibleOrders.length; round++) {
    const flows = circulation(active, prices, opts, forced);
    const partFilled = active.filter((o) => {
      if (o.partial) return false;
      const f = flows.get(o.id) ?? 0n;
      return f > 0n && f < prices.get(o.sell)! * o.give;
    });
    if (partFilled.length === 0) return flows;
    const drop = new Set(partFilled.filter((o) => !force || forced.has(o.id)).map((o) => o.id));
    if (force) for (const o of partFilled) forced.add(o.id);
    for (const id of drop) forced.delete(id);
    active = active.filter((o) => !drop.has(o.id));
  }
  return new Map();
}

/** Priority of a forced order: far above any gain (at most 1 per unit of value). */
const FORCED = 1_000;

function circulation(
  orders: readonly Order[],
  prices: Prices,
  opts: FlowOptions,
  forced: ReadonlySet<string>,
): Map<string, bigint> {
  const { index, node } = assetIndex();
  const byPair = new Map<string, { from: number; to: number; edges: { edge: Edge; at: number }[] }>();
  orders.forEach((o, at) => {
    const edge: Edge = {
      order: o,
      cap: prices.get(o.sell)! * o.give,
      cost: -(gainPerValue(o, prices) + opts.volumeWeight) - (forced.has(o.id) ? FORCED : 0),
    };
    const key = `${o.sell}>${o.buy}`;
    let p = byPair.get(key);
    if (p === undefined) {
      p = { from: node(o.sell), to: node(o.buy), edges: [] };
      byPair.set(key, p);
    }
    p.edges.push({ edge, at });
  });
  const pairs: Pair[] = [...byPair.values()].map((p) => ({
    from: p.from,
    to: p.to,
    // cheapest first; among equal costs, in batch order
    edges: p.edges.sort((a, b) => a.edge.cost - b.edge.cost || a.at - b.at).map((e) => e.edge),
    next: 0,
    part: 0n,
  }));
  const n = index.size;
  for (let cancels = 0; cancels < opts.maxCancels; cancels++) {
    const cycle = negativeCycle(n, pairs);
    if (cycle === undefined) break;
    let push = cycle[0]!.room;
    for (const a of cycle) if (a.room < push) push = a.room;
    for (const a of cycle) shift(a.pair, a.forward ? push : -push);
  }
  const out = new Map<string, bigint>();
  for (const p of pairs) {
    for (let i = 0; i < p.next; i++) out.set(p.edges[i]!.order.id, p.edges[i]!.cap);
    if (p.part > 0n) out.set(p.edges[p.next]!.order.id, p.part);
  }
  return out;
}

/** Moves `delta` of flow onto (or, negative, off) a pair, within one order's room (its arc's). */
function shift(p: Pair, delta: bigint): void {
  if (delta > 0n) {
    p.part += delta;
    if (p.part === p.edges[p.next]!.cap) {
      p.next++;
      p.part = 0n;
    }
  } else if (p.part > 0n) p.part += delta;
  else {
    p.next--;
    p.part = p.edges[p.next]!.cap + delta;
  }
}

/** The pair's residual arcs: onto its cheapest order with room, off its dearest with flow. */
function arcsOf(p: Pair, offer: (from: number, to: number, arc: Arc) => void): void {
  const e = p.edges[p.next];
  if (e !== undefined) offer(p.from, p.to, { pair: p, forward: true, cost: e.cost, room: e.cap - p.part });
  if (p.part > 0n) offer(p.to, p.from, { pair: p, forward: false, cost: -e!.cost, room: p.part });
  else if (p.next > 0) {
    const full = p.edges[p.next - 1]!;
    offer(p.to, p.from, { pair: p, forward: false, cost: -full.cost, room: full.cap });
  }
}

/** A cycle of residual arcs of negative total cost (beyond float noise), or undefined. */
function negativeCycle(n: number, pairs: readonly Pair[]): Arc[] | undefined {
  // per ordered node pair, the cheapest residual arc
  const best: (Arc | undefined)[] = new Array(n * n);
  const offer = (from: number, to: number, arc: Arc) => {
    const k = from * n + to;
    const b = best[k];
    if (b === undefined || arc.cost < b.cost) best[k] = arc;
  };
  for (const p of pairs) arcsOf(p, offer);
  const arcs: { from: number; to: number; arc: Arc }[] = [];
  best.forEach((arc, k) => {
    if (arc !== undefined) arcs.push({ from: Math.floor(k / n), to: k % n, arc });
  });
  const dist = new Float64Array(n);
  const pred: ({ from: number; arc: Arc } | undefined)[] = new Array(n);
  let relaxed = -1;
  for (let round = 0; round < n; round++) {
    relaxed = -1;
    for (const { from, to, arc } of arcs) {
      const d = dist[from]! + arc.cost;
      if (d < dist[to]! - 1e-12) {
        dist[to] = d;
        pred[to] = { from, arc };
        relaxed = to;
      }
    }
    if (relaxed === -1) return undefined;
  }
  // relaxed in round n: a negative cycle reaches `relaxed`; step back n times to stand on it
  let x = relaxed;
  for (let i = 0; i < n; i++) x = pred[x]!.from;
  const cycle: Arc[] = [];
  let cost = 0;
  for (let y = x; ; ) {
    const p = pred[y]!;
    cycle.push(p.arc);
    cost += p.arc.cost;
    y = p.from;
    if (y === x) break;
    if (cycle.length > n) return undefined; // not a simple cycle: float noise
  }
  return cost < -1e-12 ? cycle : undefined;
}

/** Assets the fills sell more of than they buy, with the shortfall, in asset order. */
function shortAssets(
  orders: ReadonlyMap<string, Order>,
  fills: ReadonlyMap<string, { sold: bigint; bought: bigint }>,
): [string, bigint][] {
  const deficit = new Map<string, bigint>();
  for (const [id, f] of fills) {
    const o = orders.get(id)!;
    deficit.set(o.sell, (deficit.get(o.sell) ?? 0n) + f.sold);
    deficit.set(o.buy, (deficit.get(o.buy) ?? 0n) - f.bought);
  }
  return [...deficit].filter(([, d]) => d > 0n).sort(([a], [b]) => (a < b ? -1 : 1));
}

/**
 * The settlement of flows at prices: each order sells the whole units its value pays for (rounded
 * down), buys the price-implied amount rounded up; then, per asset, while the fills sell more than
 * they buy, buyers of it get more (within rounding's room, auction.ts rule 3), failing that
 * partial sellers of it sell less, and failing that a seller of it leaves the settlement. What is
 * left over is the solver's dust to pay.
 */
export function settle(
  orders: ReadonlyMap<string, Order>,
  prices: Prices,
  flows: ReadonlyMap<string, bigint>,
): Settlement {
  const fills = new Map<string, { sold: bigint; bought: bigint }>();
  const ids = [...flows.keys()].sort();
  const boughtFor = (o: Order, sold: bigint) => boughtRange(sold, prices.get(o.sell)!, prices.get(o.buy)!);
  for (const id of ids) {
    const o = orders.get(id)!;
    const sold = flows.get(id)! / prices.get(o.sell)!;
    if (sold > 0n) fills.set(id, { sold, bought: boughtFor(o, sold).least });
  }
  // every round either ends balanced or changes a fill, and a fill changes at most: bought rises
  // to its rounding room, sold falls, or it is dropped; the bound is a limit, not the expectation
  for (let round = 0; round < 4 * fills.size + 4; round++) {
    const short = shortAssets(orders, fills);
    if (short.length === 0) break;
    for (const [asset, d0] of short) {
      let d = d0;
      for (const [id, f] of fills) {
        const o = orders.get(id)!;
        if (o.buy !== asset || d === 0n) continue;
        const more = smaller(boughtFor(o, f.sold).most - f.bought, d);
        f.bought += more;
        d -= more;
      }
      for (const [id, f] of fills) {
        const o = orders.get(id)!;
        if (o.sell !== asset || !o.partial || d === 0n) continue;
        const less = smaller(f.sold - 1n, d);
        f.sold -= less;
        f.bought = boughtFor(o, f.sold).least;
        d -= less;
      }
      // whole units cannot carry what the flows did (a flow worth less than a unit somewhere):
      // a seller of the asset leaves the settlement, and the next round balances what that moved
      if (d > 0n) {
        const seller = [...fills.keys()].find((id) => orders.get(id)!.sell === asset);
        if (seller !== undefined) fills.delete(seller);
      }
    }
  }
  const out: OrderFill[] = [];
  for (const [id, f] of fills) out.push({ id, sold: f.sold, bought: f.bought });
  return { prices, fills: out };
}
