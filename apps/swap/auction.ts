/**
 * A batch auction's settlement and the rules it must keep (README.md, "Batch auctions").
 *
 * Orders are intents as the auction sees them: an asset sold, an asset bought, a limit and a fill
 * rule. A settlement names one clearing price per asset (a positive integer: the value of one unit)
 * and fills orders at those prices, so every trade in the batch sees the same exchange rates.
 * Rules, each checked exactly (bigint) by `settlementViolation`:
 *   1. each fill names an order of the batch, and no order is filled twice;
 *   2. each fill keeps its order's limit price and fill rule (fill.ts);
 *   3. uniform prices, rounded for the owner: a fill selling s of X buys b of Y with
 *      ceil(s·pX/pY) <= b <= ceil((s+1)·pX/pY): at least the price-implied amount, and at most what
 *      one more unit sold would imply (the room the solver needs to round whole units);
 *   4. per asset, the fills buy at least what they sell: the solver pays the rounding dust from its
 *      own notes and never keeps any.
 */
import { ceilDiv, type Fill, fillViolation, type Limit } from './fill.ts';

/** An intent in the auction. Assets are named by `assetKey` (format.ts). */
export interface Order extends Limit {
  readonly id: string;
  readonly sell: string;
  readonly buy: string;
}

/** Clearing prices: the value of one unit of each asset, a positive integer. */
export type Prices = ReadonlyMap<string, bigint>;

export interface OrderFill extends Fill {
  readonly id: string;
}

export interface Settlement {
  readonly prices: Prices;
  readonly fills: readonly OrderFill[];
}

/** Dense indices for assets, in the order first asked for (graph nodes of a batch's assets). */
export function assetIndex(): {
  readonly index: ReadonlyMap<string, number>;
  readonly node: (asset: string) => number;
} {
  const index = new Map<string, number>();
  const node = (asset: string) => {
    let i = index.get(asset);
    if (i === undefined) {
      i = index.size;
      index.set(asset, i);
    }
    return i;
  };
  return { index, node };
}

/** Whether an order may trade at these prices: what it sells buys at least its limit, pS·G >= pB·W. */
export function eligible(order: Order, prices: Prices): boolean {
  const ps = prices.get(order.sell);
  const pb = prices.get(order.buy);
  return ps !== undefined && pb !== undefined && ps * order.give >= pb * order.want;
}

/**
 * Whether a ring of orders can clear: each buys what the next sells (the last what the first
 * sells) and the product of the limit prices W/G is at most 1, exactly: ∏W <= ∏G. Throws on a
 * sequence that is not a ring of assets.
 */
export function ringClears(ring: readonly Order[]): boolean {
  if (ring.length < 2) throw new RangeError('a ring has at least two orders');
  let wants = 1n;
  let gives = 1n;
  for (let i = 0; i < ring.length; i++) {
    const next = ring[(i + 1) % ring.length]!;
    if (ring[i]!.buy !== next.sell)
      throw new RangeError(`order ${i} does not buy what order ${(i + 1) % ring.length} sells`);
    wants *= ring[i]!.want;
    gives *= ring[i]!.give;
  }
  return wants <= gives;
}

/** The least and most a fill selling `sold` of X may buy of Y at prices pX, pY (rule 3). */
export function boughtRange(sold: bigint, pSell: bigint, pBuy: bigint): { least: bigint; most: bigint } {
  return { least: ceilDiv(sold * pSell, pBuy), most: ceilDiv((sold + 1n) * pSell, pBuy) };
}

/** Per asset: what the fills buy minus what they sell, i.e. what the solver adds (rule 4: >= 0). */
export function dustOf(orders: ReadonlyMap<string, Order>, fills: readonly OrderFill[]): Map<string, bigint> {
  const dust = new Map<string, bigint>();
  for (const f of fills) {
    const o = orders.get(f.id);
    if (o === undefined) continue;
    dust.set(o.buy, (dust.get(o.buy) ?? 0n) + f.bought);
    dust.set(o.sell, (dust.get(o.sell) ?? 0n) - f.sold);
  }
  return dust;
}

/** Why a settlement breaks the rules (see the header), or undefined when it keeps them all. */
export function settlementViolation(orders: ReadonlyMap<string, Order>, s: Settlement): string | undefined {
  for (const [asset, p] of s.prices) if (p <= 0n) return `price of ${asset} is not positive`;
  const seen = new Set<string>();
  for (const f of s.fills) {
    const o = orders.get(f.id);
    if (o === undefined) return `fill of unknown order ${f.id}`;
    if (seen.has(f.id)) return `order ${f.id} filled twice`;
    seen.add(f.id);
    const bad = fillViolation(o, f);
    if (bad !== undefined) return `order ${f.id} ${bad}`;
    const ps = s.prices.get(o.sell);
    const pb = s.prices.get(o.buy);
    if (ps === undefined || pb === undefined) return `order ${f.id} trades an asset without a price`;
    const { least, most } = boughtRange(f.sold, ps, pb);
    if (f.bought < least) return `order ${f.id} buys less than the clearing price gives`;
    if (f.bought > most) return `order ${f.id} buys more than rounding allows`;
  }
  for (const [asset, d] of dustOf(orders, s.fills))
    if (d < 0n) return `the fills sell ${-d} more of ${asset} than they buy`;
  return undefined;
}

/**
 * Total surplus valued at the clearing prices: Σ (b·G − s·W)/G · pY over the fills, i.e. what
 * each owner buys beyond its limit, in value units. A float: it ranks solutions; the rules above
 * are what is exact.
 */
export function surplusValue(orders: ReadonlyMap<string, Order>, s: Settlement): number {
  let total = 0;
  for (const f of s.fills) {
    const o = orders.get(f.id);
    const pb = o === undefined ? undefined : s.prices.get(o.buy);
    if (o === undefined || pb === undefined) continue;
    total += (Number(f.bought * o.give - f.sold * o.want) / Number(o.give)) * Number(pb);
  }
  return total;
}
