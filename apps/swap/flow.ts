/**
 * Volumes at given clearing prices (README.md, "Batch auctions"): how much each eligible order
 * trades so that, per asset, the value sold equals the value bought, and the batch's surplus is
 * as large as it can be. Then the whole units each owner sells and buys, rounded in the owner's
 * favour, with the solver paying the dust.
 *
 * At fixed prices this is a maximum-weight circulation: assets are nodes, an eligible order is an
 * edge X -> Y carrying value (pX per unit sold) up to pX·G, and each unit of value it carries
 * earns g = 1 − W·pY/(G·pX) of surplus. With partial orders only it is a linear program, solved
 * exactly by negative-cycle cancelling on the residual graph: for each ordered asset pair only the
 * residual edge of least cost can lie on a best cycle, so Bellman-Ford runs on at most |assets|²
 * edges whatever the number of orders. Within a pair the flow fills orders cheapest first, so a
 * pair is held as a prefix of full orders and one part-filled (`Pair`), and each search costs
 * O(|assets|³) whatever the number of orders.
 *
 * Fill-or-kill orders make it a mixed-integer program (exact.ts solves it with HiGHS). Here:
 *   1. the relaxation (fill-or-kill orders fillable in part) is solved as above; its optimum
 *      leaves few of them part-filled (at most one per asset pair);
 *   2. a dive rounds those one at a time, the largest first: up (the rest of its capacity routed
 *      back along successive shortest paths) or down (its flow routed around it), whichever leaves
 *      the larger objective. Fill-or-kill orders not yet rounded stay free to follow, so after
 *      each step the flow is optimal for the orders fixed so far (a shortest path leaves no
 *      negative cycle behind); a step may part-fill another order, rounded in turn. When neither
 *      way has a path, the order goes down with fixed orders yielding what its route needs, and
 *      those are rounded again;
 *   3. a local search tries each unfilled fill-or-kill order in (most worth first) and each filled
 *      one out (least gain first), the partial orders rerouted along shortest paths, and keeps a
 *      move that raises the objective; where the partial orders have no room for an order, other
 *      unfilled fill-or-kill orders may help carry it and are rounded as in the dive (a set of
 *      orders that only trade together goes in as one move). Passes repeat while one keeps a move,
 *      within a budget of work.
 * Three dives run: largest capacity first, largest worth (gain times capacity) first, and largest
 * capacity first looking ahead (a step judged after rounding the orders it part-fills). Each alone
 * now and then rounds a large order the wrong way; they rarely all do. The local search then starts
 * from each, the most promising first, while the budget lasts, and the best result is kept.
 * Flow moves as exact bigint value along paths, so the result is an exact circulation with every
 * fill-or-kill order at nothing or all, and the same input gives the same result (work is
 * counted, never timed).
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
  /**
   * the search's effort, in arc relaxations of its shortest-path searches (work, not time, so the
   * result does not depend on the machine): a dive after the first starts only within it, and the
   * local search stops at it. 10,000 orders over 20 assets use it all, about a second (the dives
   * take 14 million); 1,000 orders about 11 million
   */
  readonly searchBudget: number;
}

export const DEFAULT_FLOW_OPTIONS: FlowOptions = {
  maxCancels: 200_000,
  volumeWeight: 1e-9,
  searchBudget: 30_000_000,
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
 * Value carried by each order (only those with some) at `prices`, fill-or-kill orders at nothing
 * or their whole capacity (see the header). Orders not eligible at the prices carry nothing.
 */
export function flowsAtPrices(
  orders: readonly Order[],
  prices: Prices,
  opts: FlowOptions = DEFAULT_FLOW_OPTIONS,
): Map<string, bigint> {
  const eligibleOrders = orders.filter((o) => eligible(o, prices));
  const relaxed = circulation(eligibleOrders, prices, opts);
  const work = { done: 0 };
  const rounded: FillOrKillSearch[] = [];
  for (const dive of DIVES) {
    if (rounded.length > 0 && work.done > opts.searchBudget) break;
    const search = new FillOrKillSearch(eligibleOrders, prices, opts, relaxed, dive, work);
    // with nothing to round, every dive is the same
    const nothingToRound = search.partFilled() === 0;
    if (search.round()) rounded.push(search);
    if (nothingToRound) break;
  }
  // the budget goes to the most promising first (a stable sort: ties in dive order)
  const byValue = rounded.map((search) => ({ search, value: search.value() }));
  byValue.sort((a, b) => b.value - a.value);
  let best: FillOrKillSearch | undefined;
  for (const { search } of byValue) {
    if (best !== undefined && work.done > opts.searchBudget) break;
    search.fixAll();
    search.improve();
    if (best === undefined || search.value() > best.value()) best = search;
  }
  if (best === undefined) {
    // no rounding found: the search starts from the partial orders alone
    const partials = circulation(
      eligibleOrders.filter((o) => o.partial),
      prices,
      opts,
    );
    best = new FillOrKillSearch(eligibleOrders, prices, opts, partials, DIVES[0]!, work);
    best.fixAll();
    best.improve();
  }
  return best.flows();
}

/** The maximum-weight circulation of `orders`, every one fillable in part. */
function circulation(orders: readonly Order[], prices: Prices, opts: FlowOptions): Map<string, bigint> {
  const { index, node } = assetIndex();
  const pairs = pairsOf(orders, prices, opts, node);
  const n = index.size;
  for (let cancels = 0; cancels < opts.maxCancels; cancels++) {
    const cycle = negativeCycle(n, pairs);
    if (cycle === undefined) break;
    let push = cycle[0]!.room;
    for (const a of cycle) if (a.room < push) push = a.room;
    for (const a of cycle) shift(a.pair, a.forward ? push : -push);
  }
  return flowsOf(pairs);
}

function flowsOf(pairs: readonly Pair[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const p of pairs) {
    for (let i = 0; i < p.next; i++) out.set(p.edges[i]!.order.id, p.edges[i]!.cap);
    if (p.part > 0n) out.set(p.edges[p.next]!.order.id, p.part);
  }
  return out;
}

/** The orders grouped by ordered asset pair, each pair empty, cheapest first (ties in batch order). */
function pairsOf(
  orders: readonly Order[],
  prices: Prices,
  opts: FlowOptions,
  node: (asset: string) => number,
): Pair[] {
  const byPair = new Map<string, { from: number; to: number; edges: { edge: Edge; at: number }[] }>();
  orders.forEach((o, at) => {
    const edge: Edge = {
      order: o,
      cap: prices.get(o.sell)! * o.give,
      cost: -(gainPerValue(o, prices) + opts.volumeWeight),
    };
    const key = `${o.sell}>${o.buy}`;
    let p = byPair.get(key);
    if (p === undefined) {
      p = { from: node(o.sell), to: node(o.buy), edges: [] };
      byPair.set(key, p);
    }
    p.edges.push({ edge, at });
  });
  return [...byPair.values()].map((p) => ({
    from: p.from,
    to: p.to,
    edges: p.edges.sort((a, b) => a.edge.cost - b.edge.cost || a.at - b.at).map((e) => e.edge),
    next: 0,
    part: 0n,
  }));
}

/** A fill-or-kill order in the search: free (any share) until fixed, then at nothing or all. */
interface FillOrKill {
  readonly order: Order;
  readonly from: number;
  readonly to: number;
  readonly cap: bigint;
  /** gain plus volume weight per unit of value: what the order adds to the objective */
  readonly weight: number;
  /** its place among the batch's fill-or-kill orders (breaks ties; names it in an `ArcCode`) */
  readonly index: number;
  flow: bigint;
  free: boolean;
}

/**
 * How a dive rounds: which part-filled order first, the one of largest capacity or of largest
 * worth (weight times capacity); and whether it looks `ahead`, judging a step after rounding the
 * orders that step part-fills.
 */
interface Dive {
  readonly first: 'capacity' | 'worth';
  readonly ahead: boolean;
}

/** The dives tried (see the header): each alone now and then rounds a large order the wrong way. */
const DIVES: readonly Dive[] = [
  { first: 'capacity', ahead: false },
  { first: 'worth', ahead: false },
  { first: 'capacity', ahead: true },
];

/** One undoable change of the search's state. */
type Change =
  | { readonly pair: Pair; readonly delta: bigint }
  | { readonly fillOrKill: FillOrKill; readonly flow: bigint; readonly free: boolean };

/** A point of the log to roll back to. */
interface Mark {
  readonly at: number;
  readonly objective: number;
}

/**
 * A residual arc of the search, as a number (searches make many, objects would be garbage):
 * index·4 + 2 for a fill-or-kill order (0 for a pair of partial orders) + 1 when forward (more
 * flow), the index into the search's fill-or-kill orders or pairs.
 */
type ArcCode = number;

/** How a route ended: all sent, no path left for the rest, or bound to cost more than allowed. */
type Routed = 'sent' | 'no-path' | 'too-dear';

/**
 * The volume problem with fill-or-kill orders, changed one exact step at a time. Partial orders
 * are pairs (as in `circulation`); flow moves along successive shortest paths of the residual
 * graph, which keeps it optimal for whatever is fixed, since a shortest path never leaves a
 * negative cycle behind. Every change is logged, so a choice that does not pay is rolled back.
 */
class FillOrKillSearch {
  private readonly n: number;
  private readonly pairs: readonly Pair[];
  private readonly fillOrKills: readonly FillOrKill[];
  /** per ordered asset pair (from·n + to), its fill-or-kill orders, least weight first */
  private readonly byPair: readonly (readonly FillOrKill[])[];
  /** fill-or-kill orders part-filled, to be rounded */
  private readonly rounding = new Set<FillOrKill>();
  /** how many fill-or-kill orders are free */
  private free = 0;
  private log: Change[] = [];
  private objective = 0;
  /**
   * which fixed orders a route may move: none; filled ones yielding flow (`round`); or unfilled
   * ones helping to carry it (`move`), at their earnings or as a last resort (`offerHelpers`)
   */
  private mode: 'plain' | 'displacing' | 'helping' | 'last-helping' = 'plain';
  /** what moving a fixed order costs beyond its weight: more than any path of other arcs */
  private readonly yielding: number;
  /** the helpers of the move under way already rounded */
  private readonly helped = new Set<FillOrKill>();
  /** the order being rounded, whose own arcs its route must not use */
  private rounded: FillOrKill | undefined;
  /** least path costs from a source, kept until the state changes for good */
  private distances: Float64Array | undefined;
  // the arc table of the current search, in buffers reused from search to search
  private readonly slotCost: Float64Array;
  private readonly slotArc: Int32Array;
  private readonly arcFrom: Int32Array;
  private readonly arcTo: Int32Array;
  private readonly arcCost: Float64Array;
  private readonly arcCode: Int32Array;
  private arcs = 0;
  /** per asset pair, its free orders' arcs (`offerFree`): orders' indices, and whether stale */
  private readonly freeOnto: Int32Array;
  private readonly freeOff: Int32Array;
  private readonly stale: Uint8Array;

  constructor(
    orders: readonly Order[],
    prices: Prices,
    private readonly opts: FlowOptions,
    relaxed: ReadonlyMap<string, bigint>,
    private readonly dive: Dive,
    private readonly work: { done: number },
  ) {
    const { index, node } = assetIndex();
    const pairs = pairsOf(
      orders.filter((o) => o.partial),
      prices,
      opts,
      node,
    );
    // a pair's flow is a prefix of its orders (cheapest first), so of its partial ones too
    for (const p of pairs) {
      for (const e of p.edges) {
        const f = relaxed.get(e.order.id) ?? 0n;
        if (f === 0n) break;
        this.objective -= e.cost * Number(f);
        if (f < e.cap) {
          p.part = f;
          break;
        }
        p.next++;
      }
    }
    const fillOrKills = orders
      .filter((o) => !o.partial)
      .map((o, index): FillOrKill => {
        const flow = relaxed.get(o.id) ?? 0n;
        const weight = gainPerValue(o, prices) + opts.volumeWeight;
        this.objective += weight * Number(flow);
        const cap = prices.get(o.sell)! * o.give;
        return { order: o, from: node(o.sell), to: node(o.buy), cap, weight, index, flow, free: true };
      });
    this.n = index.size;
    this.yielding = 2 * this.n + 2;
    const slots = this.n * this.n;
    this.slotCost = new Float64Array(slots);
    this.slotArc = new Int32Array(slots);
    this.arcFrom = new Int32Array(slots);
    this.arcTo = new Int32Array(slots);
    this.arcCost = new Float64Array(slots);
    this.arcCode = new Int32Array(slots);
    this.freeOnto = new Int32Array(slots);
    this.freeOff = new Int32Array(slots);
    this.stale = new Uint8Array(slots).fill(1);
    const byPair: FillOrKill[][] = Array.from({ length: this.n * this.n }, () => []);
    for (const f of fillOrKills) byPair[f.from * this.n + f.to]!.push(f);
    for (const list of byPair) list.sort((a, b) => a.weight - b.weight || a.index - b.index);
    for (const f of fillOrKills) this.track(f);
    this.free = fillOrKills.length;
    this.pairs = pairs;
    this.fillOrKills = fillOrKills;
    this.byPair = byPair;
  }

  partFilled(): number {
    return this.rounding.size;
  }

  /**
   * The objective (gain plus volume weight, in value units) of the current flows, summed afresh:
   * the running `objective` gathers float noise over many moves, enough to misjudge a tie.
   */
  value(): number {
    let total = 0;
    for (const p of this.pairs) {
      for (let i = 0; i < p.next; i++) total -= p.edges[i]!.cost * Number(p.edges[i]!.cap);
      if (p.part > 0n) total -= p.edges[p.next]!.cost * Number(p.part);
    }
    for (const f of this.fillOrKills) total += f.weight * Number(f.flow);
    return total;
  }

  /** Every order's value, those with some. */
  flows(): Map<string, bigint> {
    const out = flowsOf(this.pairs);
    for (const f of this.fillOrKills) if (f.flow > 0n) out.set(f.order.id, f.flow);
    return out;
  }

  /**
   * The dive: rounds every part-filled order, one at a time (`pick`), up or down, whichever
   * leaves the larger objective. A free order may be part-filled by a step and is rounded in
   * turn. When neither way has a path of free arcs, the order goes down with fixed orders
   * yielding flow to its route (at a cost above any free path, so only where nothing else can);
   * a fixed order left part-filled is rounded again. An order rounded down is out for good, and
   * only such a step can unsettle a fixed order, so this ends; the guard is a limit, not the
   * expectation. False when an order can be rounded no way.
   */
  round(): boolean {
    for (let guard = 0; this.rounding.size > 0; guard++) {
      if (guard > 4 * this.fillOrKills.length + 16) return false;
      if (!this.roundOne(this.pick(this.rounding), this.dive.ahead)) return false;
    }
    return true;
  }

  /**
   * Rounds one order up or down, whichever leaves the larger objective; looking `ahead`, after
   * the orders the step itself part-fills are rounded too (each by its own objective alone).
   */
  private roundOne(f: FillOrKill, ahead: boolean): boolean {
    const start = this.mark();
    const before = ahead ? new Set(this.rounding) : undefined;
    const settled = () => before === undefined || this.roundAllBut(before);
    const up = this.fix(f, true) && settled() ? this.objective : Number.NEGATIVE_INFINITY;
    this.rollback(start);
    if (this.fix(f, false) && settled() && this.objective >= up) return true;
    this.rollback(start);
    if (up !== Number.NEGATIVE_INFINITY) return this.fix(f, true) && settled();
    if (this.mode !== 'plain') return false;
    this.mode = 'displacing';
    const down = this.fix(f, false);
    this.mode = 'plain';
    return down;
  }

  /** Rounds every part-filled order not in `before`, each by its own objective alone. */
  private roundAllBut(before: ReadonlySet<FillOrKill>): boolean {
    for (let guard = 0; ; guard++) {
      if (guard > 4 * this.fillOrKills.length + 16) return false;
      const fresh = [...this.rounding].filter((f) => !before.has(f));
      if (fresh.length === 0) return true;
      if (!this.roundOne(this.pick(fresh), false)) return false;
    }
  }

  /**
   * Rounds the helpers a move part-filled, each by its own objective alone; a helper rounded
   * helps no more in this move, so this ends.
   */
  private roundHelpers(): boolean {
    while (this.rounding.size > 0) {
      const f = this.pick(this.rounding);
      if (this.helped.has(f)) return false;
      this.helped.add(f);
      if (!this.roundOne(f, false)) return false;
    }
    return true;
  }

  /** The part-filled order to round next: the largest by the dive's order, ties in batch order. */
  private pick(among: Iterable<FillOrKill>): FillOrKill {
    let best: FillOrKill | undefined;
    let bestKey = Number.NEGATIVE_INFINITY;
    for (const f of among) {
      const key = this.dive.first === 'capacity' ? Number(f.cap) : f.weight * Number(f.cap);
      if (best === undefined || key > bestKey || (key === bestKey && f.index < best.index)) {
        best = f;
        bestKey = key;
      }
    }
    return best!;
  }

  /** Fixes every fill-or-kill order where it stands (nothing or all, after `round`). */
  fixAll(): void {
    for (const f of this.fillOrKills) f.free = false;
    this.free = 0;
    this.stale.fill(1);
    this.commit();
  }

  /**
   * The local search, within `searchBudget`: each unfilled fill-or-kill order (most worth first)
   * tried in, each filled one (least gain first) tried out; repeated while a pass keeps a move. An
   * order is tried only when the least path cost of its reroute, per unit, leaves it a gain.
   */
  improve(): void {
    const worth = (f: FillOrKill) => f.weight * Number(f.cap);
    const byWorth = [...this.fillOrKills].sort((a, b) => worth(b) - worth(a) || a.index - b.index);
    const byWeight = [...this.fillOrKills].sort((a, b) => a.weight - b.weight || a.index - b.index);
    for (let improved = true; improved; ) {
      improved = false;
      for (const f of byWorth) {
        if (this.work.done > this.opts.searchBudget) return;
        if (f.flow !== 0n || !(f.weight > this.distance(f.to, f.from) + 1e-12)) continue;
        improved = this.move(f, true) || improved;
      }
      for (const f of byWeight) {
        if (this.work.done > this.opts.searchBudget) return;
        if (f.flow !== f.cap || !(-f.weight > this.distance(f.from, f.to) + 1e-12)) continue;
        improved = this.move(f, false) || improved;
      }
    }
  }

  /**
   * Fills (or empties) a fixed order and reroutes; kept if the objective rises. An order filled may
   * take unfilled fill-or-kill orders along to help carry its value back (`offerHelpers`), which
   * are then rounded as in the dive: a move that fills a set of orders together.
   */
  private move(f: FillOrKill, fill: boolean): boolean {
    const start = this.mark();
    const worth = f.weight * Number(f.cap);
    let routed: Routed;
    if (fill) {
      // the helpers' costs come from the residual graph before the move
      this.distance(0, 0);
      routed = this.fill(f, 'helping', worth);
      if (routed === 'no-path') {
        // helpers at their earnings may close a negative cycle among themselves: then helpers
        // only where nothing else has room
        this.rollback(start);
        routed = this.fill(f, 'last-helping', Number.POSITIVE_INFINITY);
      }
    } else {
      this.setFlow(f, 0n, false);
      routed = this.route(f.from, f.to, f.cap, -worth);
    }
    if (routed === 'sent' && this.objective > start.objective + 1e-12 * Math.abs(start.objective)) {
      this.commit();
      return true;
    }
    this.rollback(start);
    return false;
  }

  /** Fills a fixed order, routing its value back with helpers (`offerHelpers`), and rounds them. */
  private fill(f: FillOrKill, mode: 'helping' | 'last-helping', budget: number): Routed {
    this.mode = mode;
    this.helped.clear();
    this.setFlow(f, f.cap, false);
    let routed = this.route(f.to, f.from, f.cap, budget);
    if (routed === 'sent' && !this.roundHelpers()) routed = 'no-path';
    this.mode = 'plain';
    return routed;
  }

  /** Fixes a part-filled order at all (`up`) or nothing and routes the difference. */
  private fix(f: FillOrKill, up: boolean): boolean {
    const rest = up ? f.cap - f.flow : f.flow;
    this.setFlow(f, up ? f.cap : 0n, false);
    this.rounded = f;
    const routed = up
      ? this.route(f.to, f.from, rest, Number.POSITIVE_INFINITY)
      : this.route(f.from, f.to, rest, Number.POSITIVE_INFINITY);
    this.rounded = undefined;
    return routed === 'sent';
  }

  private mark(): Mark {
    return { at: this.log.length, objective: this.objective };
  }

  private commit(): void {
    this.log = [];
    this.distances = undefined;
  }

  private rollback(m: Mark): void {
    while (this.log.length > m.at) {
      const c = this.log.pop()!;
      if ('pair' in c) shift(c.pair, -c.delta);
      else {
        const f = c.fillOrKill;
        if (f.free !== c.free) this.free += c.free ? 1 : -1;
        f.flow = c.flow;
        f.free = c.free;
        this.track(f);
      }
    }
    this.objective = m.objective;
  }

  private setFlow(f: FillOrKill, flow: bigint, free: boolean): void {
    this.log.push({ fillOrKill: f, flow: f.flow, free: f.free });
    if (f.free !== free) this.free += free ? 1 : -1;
    this.objective += f.weight * Number(flow - f.flow);
    f.flow = flow;
    f.free = free;
    this.track(f);
  }

  private track(f: FillOrKill): void {
    this.stale[f.from * this.n + f.to] = 1;
    if (f.flow > 0n && f.flow < f.cap) this.rounding.add(f);
    else this.rounding.delete(f);
  }

  /**
   * Sends `amount` of value from `source` to `sink` along successive shortest paths. False (part
   * of it sent: the caller rolls back) when no path is left, or when the cost is bound to exceed
   * `budget`: path costs only rise, so what is left costs at least the current path's per unit.
   */
  private route(source: number, sink: number, amount: bigint, budget: number): Routed {
    let spent = 0;
    let left = amount;
    const path: ArcCode[] = [];
    // each path empties an arc's room or ends the route; the guard is a limit
    for (let paths = 0; left > 0n; paths++) {
      if (paths > 4 * (this.fillOrKills.length + this.pairs.length) + 16) return 'no-path';
      const search = this.shortest(source);
      if (search === undefined) return 'no-path';
      const d = search.dist[sink]!;
      if (d === Number.POSITIVE_INFINITY) return 'no-path';
      if (spent + d * Number(left) > budget) return 'too-dear';
      path.length = 0;
      let push = left;
      for (let at = sink; at !== source; ) {
        const a = search.via[at]!;
        const code = this.arcCode[a]!;
        path.push(code);
        const room = this.room(code);
        if (room < push) push = room;
        at = this.arcFrom[a]!;
        if (path.length > this.n) return 'no-path';
      }
      for (const code of path) this.apply(code, push);
      spent += d * Number(push);
      left -= push;
    }
    return 'sent';
  }

  private room(code: ArcCode): bigint {
    const forward = (code & 1) === 1;
    const i = code >> 2;
    if ((code & 2) === 2) {
      const f = this.fillOrKills[i]!;
      return forward ? f.cap - f.flow : f.flow;
    }
    const p = this.pairs[i]!;
    if (forward) return p.edges[p.next]!.cap - p.part;
    return p.part > 0n ? p.part : p.edges[p.next - 1]!.cap;
  }

  private apply(code: ArcCode, push: bigint): void {
    const forward = (code & 1) === 1;
    const i = code >> 2;
    if ((code & 2) === 2) {
      const f = this.fillOrKills[i]!;
      this.setFlow(f, forward ? f.flow + push : f.flow - push, f.free);
      return;
    }
    const p = this.pairs[i]!;
    const edge = forward || p.part > 0n ? p.edges[p.next]! : p.edges[p.next - 1]!;
    const delta = forward ? push : -push;
    this.objective -= edge.cost * Number(delta);
    shift(p, delta);
    this.log.push({ pair: p, delta });
  }

  /**
   * Least cost per unit from `source` to `sink` on the graph as it stood when last asked since a
   * move was kept (−∞ when unknown: a try decides). All pairs at once (Floyd-Warshall, |assets|³),
   * cheaper than a Bellman-Ford from each asset.
   */
  private distance(source: number, sink: number): number {
    if (this.distances === undefined) this.distances = this.allDistances();
    return this.distances[source * this.n + sink]!;
  }

  private allDistances(): Float64Array {
    const n = this.n;
    this.arcTable();
    const d = new Float64Array(n * n).fill(Number.POSITIVE_INFINITY);
    for (let i = 0; i < n; i++) d[i * n + i] = 0;
    for (let a = 0; a < this.arcs; a++) {
      const k = this.arcFrom[a]! * n + this.arcTo[a]!;
      if (this.arcCost[a]! < d[k]!) d[k] = this.arcCost[a]!;
    }
    for (let k = 0; k < n; k++)
      for (let i = 0; i < n; i++) {
        const ik = d[i * n + k]!;
        if (ik === Number.POSITIVE_INFINITY) continue;
        for (let j = 0; j < n; j++) {
          const via = ik + d[k * n + j]!;
          if (via < d[i * n + j]!) d[i * n + j] = via;
        }
      }
    this.work.done += n * n * n;
    // a negative cycle (float noise on an optimal flow) leaves nothing to trust
    for (let i = 0; i < n; i++) if (d[i * n + i]! < -1e-12) return d.fill(Number.NEGATIVE_INFINITY);
    return d;
  }

  /**
   * Bellman-Ford from `source` over the current arc table; undefined on a negative cycle (only
   * float noise makes one). `via` names the arc (in the table) each asset is reached by.
   */
  private shortest(source: number): { dist: Float64Array; via: Int32Array } | undefined {
    this.arcTable();
    const n = this.n;
    const m = this.arcs;
    const { arcFrom, arcTo, arcCost } = this;
    const dist = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    const via = new Int32Array(n).fill(-1);
    dist[source] = 0;
    for (let round = 0; round <= n; round++) {
      let changed = false;
      for (let i = 0; i < m; i++) {
        const from = dist[arcFrom[i]!]!;
        if (from === Number.POSITIVE_INFINITY) continue;
        const d = from + arcCost[i]!;
        const to = arcTo[i]!;
        if (d < dist[to]! - 1e-12) {
          dist[to] = d;
          via[to] = i;
          changed = true;
        }
      }
      this.work.done += m;
      if (!changed) return { dist, via };
    }
    return undefined;
  }

  /**
   * The residual arcs, the cheapest per ordered asset pair: per pair of partial orders its two
   * (as in `arcsOf`); per asset pair, more onto its free fill-or-kill order of most weight with
   * room and less off its free one of least weight with flow; when fixed orders may yield, the
   * same over them, `yielding` dearer.
   */
  private arcTable(): void {
    const n = this.n;
    this.slotCost.fill(Number.POSITIVE_INFINITY);
    for (let i = 0; i < this.pairs.length; i++) {
      const p = this.pairs[i]!;
      const e = p.edges[p.next];
      if (e !== undefined) this.offer(p.from * n + p.to, e.cost, i * 4 + 1);
      if (p.part > 0n) this.offer(p.to * n + p.from, -e!.cost, i * 4);
      else if (p.next > 0) this.offer(p.to * n + p.from, -p.edges[p.next - 1]!.cost, i * 4);
    }
    if (this.free > 0) for (let k = 0; k < n * n; k++) this.offerFree(k);
    if (this.mode !== 'plain')
      for (const list of this.byPair) {
        if (this.mode === 'displacing') this.offerFixed(list);
        else this.offerHelpers(list, this.mode === 'last-helping');
      }
    let m = 0;
    for (let k = 0; k < n * n; k++) {
      const c = this.slotCost[k]!;
      if (c === Number.POSITIVE_INFINITY) continue;
      this.arcFrom[m] = Math.floor(k / n);
      this.arcTo[m] = k % n;
      this.arcCost[m] = c;
      this.arcCode[m] = this.slotArc[k]!;
      m++;
    }
    this.arcs = m;
  }

  private offer(slot: number, cost: number, code: ArcCode): void {
    if (cost < this.slotCost[slot]!) {
      this.slotCost[slot] = cost;
      this.slotArc[slot] = code;
    }
  }

  /** An asset pair's two arcs over its free (or fixed) fill-or-kill orders, `extra` dearer. */
  /**
   * An asset pair's arcs over its free orders: more onto the one of most weight with room, less
   * off the one of least weight with flow. Kept per asset pair until one of its orders changes.
   */
  private offerFree(k: number): void {
    const list = this.byPair[k]!;
    if (list.length === 0) return;
    if (this.stale[k] === 1) {
      this.stale[k] = 0;
      this.freeOnto[k] = -1;
      this.freeOff[k] = -1;
      for (let i = list.length - 1; i >= 0; i--) {
        const f = list[i]!;
        if (!f.free || f.flow === f.cap) continue;
        this.freeOnto[k] = f.index;
        break;
      }
      for (const f of list) {
        if (!f.free || f.flow === 0n) continue;
        this.freeOff[k] = f.index;
        break;
      }
    }
    const n = this.n;
    const onto = this.freeOnto[k]!;
    if (onto >= 0) {
      const f = this.fillOrKills[onto]!;
      this.offer(f.from * n + f.to, -f.weight, onto * 4 + 3);
    }
    const off = this.freeOff[k]!;
    if (off >= 0) {
      const f = this.fillOrKills[off]!;
      this.offer(f.to * n + f.from, f.weight, off * 4 + 2);
    }
  }

  /** The same over fixed orders yielding flow to the dive's route: `yielding` dearer. */
  private offerFixed(list: readonly FillOrKill[]): void {
    const n = this.n;
    for (let i = list.length - 1; i >= 0; i--) {
      const f = list[i]!;
      // a fixed order at nothing is out: only one a route has part-emptied may fill again
      if (f.free || f === this.rounded || f.flow === f.cap || f.flow === 0n) continue;
      this.offer(f.from * n + f.to, -f.weight - this.yielding, f.index * 4 + 3);
      break;
    }
    for (const f of list) {
      if (f.free || f === this.rounded || f.flow === 0n) continue;
      this.offer(f.to * n + f.from, f.weight + this.yielding, f.index * 4 + 2);
      break;
    }
  }

  /**
   * An asset pair's arcs over unfilled fixed orders helping a move. A helper earns its weight per
   * unit, but never more than the cheapest way back from its end to its start costs (measured
   * before the move): otherwise a helper and that way back would make a negative cycle, whose
   * cancelling would fill the helper in part with nothing gained by the move. As a `last` resort,
   * a helper costs `yielding` more than that: used only where nothing else has room.
   */
  private offerHelpers(list: readonly FillOrKill[], last: boolean): void {
    const n = this.n;
    const extra = last ? this.yielding : 0;
    for (let i = list.length - 1; i >= 0; i--) {
      const f = list[i]!;
      if (f.free || f === this.rounded || f.flow === f.cap || this.helped.has(f)) continue;
      const cost = Math.max(-f.weight, -this.distance(f.to, f.from)) + extra;
      this.offer(f.from * n + f.to, cost, f.index * 4 + 3);
      break;
    }
    for (const f of list) {
      if (f.free || f === this.rounded || f.flow === 0n || f.flow === f.cap) continue;
      const cost = Math.min(f.weight, this.distance(f.to, f.from)) - extra;
      this.offer(f.to * n + f.from, cost, f.index * 4 + 2);
      break;
    }
  }
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
