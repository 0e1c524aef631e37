/**
 * The swap's batch solver (README.md, "Batch auctions"): clearing prices from the rings that can
 * clear (prices.ts), the volumes at those prices (flow.ts), whole units and dust (flow.ts `settle`),
 * and the settlement checked against every rule (auction.ts) before it is returned: a solution
 * that fails a rule is a bug, reported as such, never submitted.
 */
import { type Order, type Settlement, settlementViolation, surplusValue } from './auction.ts';
import { DEFAULT_FLOW_OPTIONS, type FlowOptions, flowsAtPrices, settle } from './flow.ts';
import { clearingPrices, DEFAULT_PRICE_OPTIONS, type PriceOptions } from './prices.ts';

export interface SolveOptions {
  readonly prices: PriceOptions;
  readonly flow: FlowOptions;
}

export const DEFAULT_SOLVE_OPTIONS: SolveOptions = {
  prices: DEFAULT_PRICE_OPTIONS,
  flow: DEFAULT_FLOW_OPTIONS,
};

export type Solution =
  | { readonly ok: true; readonly settlement: Settlement; readonly surplus: number }
  | { readonly ok: false; readonly reason: string };

export function solveBatch(orders: readonly Order[], opts: SolveOptions = DEFAULT_SOLVE_OPTIONS): Solution {
  const byId = new Map<string, Order>();
  for (const o of orders) {
    if (byId.has(o.id)) return { ok: false, reason: `order ${o.id} appears twice in the batch` };
    byId.set(o.id, o);
  }
  const { prices } = clearingPrices(orders, opts.prices);
  if (prices.size === 0) return { ok: true, settlement: { prices, fills: [] }, surplus: 0 };
  const settlement = settle(byId, prices, flowsAtPrices(orders, prices, opts.flow));
  const bad = settlementViolation(byId, settlement);
  if (bad !== undefined) return { ok: false, reason: `solver bug: ${bad}` };
  return { ok: true, settlement, surplus: surplusValue(byId, settlement) };
}
