/**
 * Liquidity routing rewards (seed 000, "On Bitcoin and Red Balloons"): what a settlement pays the
 * gossip nodes on an intent's signed route out of the intent's settlement-conditional fee F.
 *
 * The route has k hops; hop t is counted from the solver (t = 1 delivered the intent to the solver's
 * node, t = k took it from its owner). Hop t gets
 *
 *     share(t, k) = floor(F / 2^(t - 1 + k))
 *
 * - **The node nearest the solver gets the largest part, each earlier forwarder half of the one
 *   after it** (the red-balloon split), and the rest of F stays with the owner.
 * - **Forwarding pays**: a node holding an intent that would not otherwise reach a solver gets a
 *   share only by forwarding it (for F >= 2^(2k - 1) every hop's share is at least 1).
 * - **Sybil-splitting a route loses.** The plain red-balloon split F / 2^t is not Sybil-proof: a hop
 *   that puts a clone of itself on the route (its own key signs the hop to the clone) takes the
 *   clone's share too, at its predecessors' expense (Babaioff et al. note this of the DARPA
 *   challenge's winning scheme). Here every hop on a route also halves every share, so a party that
 *   replaces its one hop at t by m >= 2 consecutive hops of its own (the only places it can put
 *   them: hops sign their neighbours) receives sum_{i<m} F / 2^(t - 1 + i + k + m - 1), which is
 *   (1 - 2^-m) * 2^(2-m) <= 3/4 of its honest F / 2^(t - 1 + k); floors keep it (a sum of floors is
 *   at most the floor of the sum). `sybilGain` states it for the properties.
 * - **Shorter routes pay more in all** (about F * 2^(1-k)): the mechanism rewards delivering
 *   directly, never padding a route.
 */
import { toHex } from '../../wire/commit.ts';
import type { Hop } from '../../wire/intent.ts';

/** The most hops a paid route may have (the gossip layer's bound). */
export const MAX_PAID_HOPS = 32;

/** Hop t's share (1 = nearest the solver) of fee F on a route of k hops. */
export function share(fee: bigint, t: number, k: number): bigint {
  if (!Number.isInteger(k) || k < 1 || k > MAX_PAID_HOPS)
    throw new RangeError(`a paid route has 1 to ${MAX_PAID_HOPS} hops, got ${k}`);
  if (!Number.isInteger(t) || t < 1 || t > k) throw new RangeError(`hop ${t} is not on a route of ${k}`);
  if (fee < 0n) throw new RangeError('a fee is not negative');
  return fee >> BigInt(t - 1 + k);
}

/** Every hop's share, in route order (index 0 took the intent from its owner, the last is nearest the solver). */
export function routeShares(fee: bigint, hops: number): bigint[] {
  return Array.from({ length: hops }, (_, i) => share(fee, hops - i, hops));
}

export interface Payout {
  /** the hop's node key (its token account receives the share) */
  readonly node: Uint8Array;
  readonly amount: bigint;
}

/**
 * What a settlement pays the route of one intent: one payout per distinct node key, summing the
 * shares of its hops (a key on the route twice is one party), zero shares left out.
 */
export function routePayouts(fee: bigint, route: readonly Hop[]): Payout[] {
  const shares = routeShares(fee, route.length);
  const byNode = new Map<string, Payout>();
  for (const [i, hop] of route.entries()) {
    const k = toHex(hop.node);
    const prev = byNode.get(k);
    byNode.set(k, { node: hop.node, amount: (prev?.amount ?? 0n) + shares[i]! });
  }
  return [...byNode.values()].filter((p) => p.amount > 0n);
}

/**
 * What a party at hop t of an honest route of k hops receives when it replaces that hop by m
 * consecutive hops of its own, and what it received honestly: `split <= honest` for every m >= 1.
 */
export function sybilGain(fee: bigint, t: number, k: number, m: number): { honest: bigint; split: bigint } {
  let split = 0n;
  for (let i = 0; i < m; i++) split += share(fee, t + i, k + m - 1);
  return { honest: share(fee, t, k), split };
}
