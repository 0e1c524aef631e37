/**
 * Clearing prices for a batch (README.md, "Batch auctions"): which orders the batch's prices should
 * let trade, and integer prices that let exactly those trade.
 *
 * Orders form a graph on assets: an order selling X for Y is an edge X -> Y with limit W/G. A ring
 * (a cycle of orders) can clear when ∏W <= ∏G (auction.ts `ringClears`). Prices p let order i trade
 * when pX·G >= pY·W; for a set of orders such prices exist exactly when none of its rings has
 * ∏W > ∏G, and they are then found as multiplicative shortest paths: every asset starts at 1 and
 * an order X -> Y lowers pY to pX·G/W while that is lower (Bellman-Ford; a relaxation still
 * possible after |assets| rounds means a ring that cannot clear).
 *
 * The rings the prices serve are chosen greedily: rings of the best-limit graph (per ordered asset
 * pair, the order asking the least, W/G smallest) up to `maxRing` long that can clear, most slack
 * (∏W/∏G smallest) first, each kept when the prices can still serve every ring kept before it.
 *
 * Exact: prices are ratios of products of amounts along shortest-path trees, made integers over a
 * common denominator.
 */
import { assetIndex, type Order, type Prices } from './auction.ts';

export interface PriceOptions {
  /** longest ring considered */
  readonly maxRing: number;
  /** most candidate rings examined (a limit on the search) */
  readonly maxRings: number;
}

export const DEFAULT_PRICE_OPTIONS: PriceOptions = { maxRing: 4, maxRings: 20_000 };

/** Per ordered asset pair, the order asking the least per unit given (W/G smallest; ties: lower id). */
export function bestLimits(orders: readonly Order[]): Map<string, Order> {
  const best = new Map<string, Order>();
  for (const o of orders) {
    const k = pairKey(o.sell, o.buy);
    const b = best.get(k);
    if (
      b === undefined ||
      o.want * b.give < b.want * o.give ||
      (o.want * b.give === b.want * o.give && o.id < b.id)
    )
      best.set(k, o);
  }
  return best;
}

const pairKey = (sell: string, buy: string) => `${sell}>${buy}`;

/** Rings of the best-limit graph up to `maxRing` long that can clear, most slack first. */
export function clearingRings(
  orders: readonly Order[],
  opts: PriceOptions = DEFAULT_PRICE_OPTIONS,
): Order[][] {
  const best = bestLimits(orders);
  const out = new Map<string, Order[]>();
  for (const o of best.values()) {
    const list = out.get(o.sell);
    if (list === undefined) out.set(o.sell, [o]);
    else list.push(o);
  }
  for (const list of out.values()) list.sort((a, b) => (a.buy < b.buy ? -1 : a.buy > b.buy ? 1 : 0));
  const assets = [...out.keys()].sort();
  const rings: { ring: Order[]; wants: bigint; gives: bigint }[] = [];
  let examined = 0;
  // each ring once: it starts at its least asset, and every other asset on it is greater
  const path: Order[] = [];
  const onPath = new Set<string>();
  const walk = (start: string, at: string, wants: bigint, gives: bigint): void => {
    for (const o of out.get(at) ?? []) {
      if (examined >= opts.maxRings) return;
      if (o.buy === start) {
        examined++;
        const w = wants * o.want;
        const g = gives * o.give;
        if (path.length + 1 >= 2 && w <= g) rings.push({ ring: [...path, o], wants: w, gives: g });
        continue;
      }
      if (o.buy < start || onPath.has(o.buy) || path.length + 1 >= opts.maxRing) continue;
      path.push(o);
      onPath.add(o.buy);
      walk(start, o.buy, wants * o.want, gives * o.give);
      onPath.delete(o.buy);
      path.pop();
    }
  };
  for (const a of assets) {
    onPath.add(a);
    walk(a, a, 1n, 1n);
    onPath.delete(a);
  }
  // most slack first: wants/gives ascending, exactly; then shorter, then by ids (deterministic)
  rings.sort((x, y) => {
    const l = x.wants * y.gives;
    const r = y.wants * x.gives;
    if (l !== r) return l < r ? -1 : 1;
    if (x.ring.length !== y.ring.length) return x.ring.length - y.ring.length;
    const ix = x.ring.map((o) => o.id).join();
    const iy = y.ring.map((o) => o.id).join();
    return ix < iy ? -1 : ix > iy ? 1 : 0;
  });
  return rings.map((r) => r.ring);
}

/** A price as the ratio num/den of products of amounts. */
interface Frac {
  num: bigint;
  den: bigint;
}

/**
 * Integer prices under which every order of `served` may trade (pX·G >= pY·W), or undefined when
 * no prices can (a ring among them asks more than it gives). Assets of `served` only.
 */
export function pricesServing(served: readonly Order[]): Prices | undefined {
  const d = new Map<string, Frac>();
  for (const o of served) {
    d.set(o.sell, { num: 1n, den: 1n });
    d.set(o.buy, { num: 1n, den: 1n });
  }
  const n = d.size;
  for (let round = 0; round <= n; round++) {
    let changed = false;
    for (const o of served) {
      const s = d.get(o.sell)!;
      const b = d.get(o.buy)!;
      // lower pB to pS·G/W when that is lower: s.num·G/(s.den·W) < b.num/b.den
      if (s.num * o.give * b.den < b.num * s.den * o.want) {
        d.set(o.buy, reduce({ num: s.num * o.give, den: s.den * o.want }));
        changed = true;
      }
    }
    if (!changed) return integers(d);
  }
  return undefined;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

function reduce(f: Frac): Frac {
  const g = gcd(f.num, f.den);
  return g > 1n ? { num: f.num / g, den: f.den / g } : f;
}

/** The fractions over their least common denominator, then divided by the numerators' gcd. */
function integers(d: Map<string, Frac>): Prices {
  let lcm = 1n;
  for (const f of d.values()) lcm = (lcm / gcd(lcm, f.den)) * f.den;
  const out = new Map<string, bigint>();
  let common = 0n;
  for (const [k, f] of [...d].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const p = (f.num * lcm) / f.den;
    out.set(k, p);
    common = gcd(common, p);
  }
  if (common > 1n) for (const [k, p] of out) out.set(k, p / common);
  return out;
}

/**
 * The batch's clearing prices: the rings it serves (greedy, see the header) and prices serving
 * them. Empty when no ring can clear.
 */
export function clearingPrices(
  orders: readonly Order[],
  opts: PriceOptions = DEFAULT_PRICE_OPTIONS,
): { prices: Prices; rings: Order[][] } {
  const served: Order[] = [];
  const ids = new Set<string>();
  const rings: Order[][] = [];
  for (const ring of clearingRings(orders, opts)) {
    const fresh = ring.filter((o) => !ids.has(o.id));
    if (fresh.length === 0) {
      rings.push(ring); // served already: the prices let it trade
      continue;
    }
    if (!servable([...served, ...fresh])) continue;
    for (const o of fresh) {
      served.push(o);
      ids.add(o.id);
    }
    rings.push(ring);
  }
  // the prices serving a set do not depend on the order it grew in: compute them once, at the end
  if (served.length === 0) return { prices: new Map(), rings };
  return { prices: pricesServing(served)!, rings };
}

/** Per edge, what floats may be off by in a log-space sum: far above their error, far below any real slack. */
const LOG_MARGIN = 1e-9;

/**
 * Whether some prices serve every order of `orders` (as `pricesServing` would find), decided in log
 * space where that is safe: a Bellman-Ford with every limit tightened by LOG_MARGIN that settles
 * proves prices exist, one with every limit loosened by it that does not proves none do. Only a
 * ring within the margins of ∏W = ∏G is left to the exact, slower, test. Exact as a whole: the
 * float runs decide only where their error cannot change the answer.
 */
export function servable(orders: readonly Order[]): boolean {
  const tight = logFeasible(orders, -LOG_MARGIN);
  if (tight) return true;
  const loose = logFeasible(orders, LOG_MARGIN);
  if (!loose) return false;
  return pricesServing(orders) !== undefined;
}

/** log(a) for a positive bigint of any size. */
function logOf(a: bigint): number {
  const x = Number(a);
  if (Number.isFinite(x)) return Math.log(x);
  const shift = BigInt(a.toString(16).length * 4 - 64);
  return Math.log(Number(a >> shift)) + Number(shift) * Math.LN2;
}

/** log(G/W) per order, computed once: the greedy asks about the same orders many times. */
const logLimits = new WeakMap<Order, number>();
function logLimit(o: Order): number {
  let l = logLimits.get(o);
  if (l === undefined) {
    l = logOf(o.give) - logOf(o.want);
    logLimits.set(o, l);
  }
  return l;
}

/** Whether log pY <= log pX + log(G/W) + slack has a solution for every order (Bellman-Ford). */
function logFeasible(orders: readonly Order[], slack: number): boolean {
  const { index, node } = assetIndex();
  const from = orders.map((o) => node(o.sell));
  const to = orders.map((o) => node(o.buy));
  const cost = orders.map((o) => logLimit(o) + slack);
  const n = index.size;
  const d = new Float64Array(n);
  for (let round = 0; round <= n; round++) {
    let changed = false;
    for (let k = 0; k < orders.length; k++) {
      const via = d[from[k]!]! + cost[k]!;
      if (via < d[to[k]!]!) {
        d[to[k]!] = via;
        changed = true;
      }
    }
    if (!changed) return true;
  }
  return false;
}
