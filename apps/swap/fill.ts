/**
 * The swap's trade rules, in exact integers (bigint): what a settlement may do with an intent, and
 * how amounts are rounded. Shared by the solver that builds settlements and the predicate that
 * checks them, so both apply one rule.
 *
 * An intent gives up to G of X and wants at least W of Y: its limit price is W/G units of Y per X.
 * A fill sells s of X and buys b of Y. It respects the limit when b·G >= s·W (no division, so no
 * rounding in the check), sells at most G, and sells exactly G unless the intent is partial.
 *
 * Rounding favours the owner (cowprotocol/services #2457 rounded the bought amount down and broke
 * limit prices by one unit): amounts derived at a price round the bought amount up and the sold
 * amount down.
 */
import type { SwapTerms } from './format.ts';

/** What the trade rules read of an intent: give up to `give`, want at least `want` for all of it. */
export interface Limit {
  readonly give: bigint;
  readonly want: bigint;
  readonly partial: boolean;
}

export function limitOf(terms: SwapTerms): Limit {
  return { give: terms.give.amount, want: terms.want.amount, partial: terms.partial };
}

/** The part of an intent a settlement executes: sold from the owner, bought for the owner. */
export interface Fill {
  readonly sold: bigint;
  readonly bought: bigint;
}

/** A price of one asset in another, as a ratio: `num` units of the quote per `den` of the base. */
export interface Ratio {
  readonly num: bigint;
  readonly den: bigint;
}

/** ceil(a / b) for a >= 0, b > 0. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/** Why `fill` breaks the intent's terms, or undefined when it keeps them. */
export function fillViolation(limit: Limit, fill: Fill): string | undefined {
  const { sold, bought } = fill;
  if (sold <= 0n) return 'sells nothing';
  if (bought < 0n) return 'buys a negative amount';
  if (sold > limit.give) return 'sells more than the intent gives';
  if (!limit.partial && sold !== limit.give) return 'fills a fill-or-kill intent in part';
  if (bought * limit.give < sold * limit.want) return 'buys less than the limit price';
  return undefined;
}

/** The least an intent must buy for selling `sold`: ceil(sold·W/G), rounded up for the owner. */
export function leastBought(limit: Limit, sold: bigint): bigint {
  return ceilDiv(sold * limit.want, limit.give);
}

/**
 * The amount bought for `sold` at a clearing rate of `rate.num` units of the bought asset per
 * `rate.den` of the sold one, rounded up (the owner's favour).
 */
export function boughtAt(sold: bigint, rate: Ratio): bigint {
  return ceilDiv(sold * rate.num, rate.den);
}

/**
 * The surplus of a fill in units of the bought asset, as a ratio: what it buys beyond the least its
 * limit price allows, b − s·W/G = (b·G − s·W) / G. Never negative for a fill that keeps the terms.
 */
export function surplus(limit: Limit, fill: Fill): Ratio {
  return { num: fill.bought * limit.give - fill.sold * limit.want, den: limit.give };
}
