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
import { type SwapTerms, sameAsset } from './format.ts';

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
export function fillViolation(terms: SwapTerms, fill: Fill): string | undefined {
  const { sold, bought } = fill;
  if (sold <= 0n) return 'sells nothing';
  if (bought < 0n) return 'buys a negative amount';
  if (sold > terms.give.amount) return 'sells more than the intent gives';
  if (!terms.partial && sold !== terms.give.amount) return 'fills a fill-or-kill intent in part';
  if (bought * terms.give.amount < sold * terms.want.amount) return 'buys less than the limit price';
  return undefined;
}

/** The least an intent must buy for selling `sold`: ceil(sold·W/G), rounded up for the owner. */
export function leastBought(terms: SwapTerms, sold: bigint): bigint {
  return ceilDiv(sold * terms.want.amount, terms.give.amount);
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
export function surplus(terms: SwapTerms, fill: Fill): Ratio {
  return { num: fill.bought * terms.give.amount - fill.sold * terms.want.amount, den: terms.give.amount };
}

/**
 * Whether a ring of intents can clear: each intent wants what the next one gives (the last wants
 * what the first gives), and the product of the limit prices W_i/G_i is at most 1: going round the
 * ring, what each must receive for what it gives never asks for more than was put in. Exact:
 * ∏W <= ∏G. Throws on a sequence that is not a ring of assets.
 */
export function ringClears(ring: readonly SwapTerms[]): boolean {
  if (ring.length < 2) throw new RangeError('a ring has at least two intents');
  let wants = 1n;
  let gives = 1n;
  for (let i = 0; i < ring.length; i++) {
    const next = ring[(i + 1) % ring.length]!;
    if (!sameAsset(ring[i]!.want.of, next.give.of))
      throw new RangeError(`intent ${i} does not want what intent ${(i + 1) % ring.length} gives`);
    wants *= ring[i]!.want.amount;
    gives *= ring[i]!.give.amount;
  }
  return wants <= gives;
}
