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

import type { Note } from '../../engines/executor/notes.ts';
import { checkRoute } from '../../engines/gossip/route.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { intentId as gossipIntentId, Hop, MAX_ROUTE, NodeKey } from '../../wire/intent.ts';
import { encode, type Infer, s } from '../../wire/schema.ts';
import type { Verifier } from '../../wire/sign.ts';
import { bytesEqual } from '../../wire/types.ts';
import { ownerCommitment } from '../token/client.ts';
import { TokenValue } from '../token/format.ts';
import { swapIntentBody } from './body.ts';
import { intentId, type SignedSwapIntent } from './format.ts';

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

// --- paying a route in a settlement ---------------------------------------------------------------

/**
 * The route a settlement pays for one intent: the hops the solver's node received it along, the
 * body's time limit (part of the id the hops signed), and the solver's node, where the last hop
 * sent it. An empty route: the owner handed the intent to the solver's node itself.
 */
export const RouteProof = s.struct({
  expiresAt: s.option(s.u64()),
  route: s.list(Hop, { max: MAX_ROUTE }),
  solverNode: NodeKey,
});
export type RouteProof = Infer<typeof RouteProof>;

const REWARD_DOMAIN = new TextEncoder().encode('fractal/swap/route-reward/v1\0');

/** The key of the note paying `node` for the intent with swap id `swapId`: one per intent and node. */
export function rewardNoteKey(swapId: Uint8Array, node: Uint8Array): Uint8Array {
  const msg = new Uint8Array(REWARD_DOMAIN.length + swapId.length + node.length);
  msg.set(REWARD_DOMAIN, 0);
  msg.set(swapId, REWARD_DOMAIN.length);
  msg.set(node, REWARD_DOMAIN.length + swapId.length);
  return sha256(msg);
}

/**
 * Why `proof` is not a signed route of `intent` from the entry node its owner named to the solver's
 * node, or undefined. The hops signed the gossip id of the intent's body, so a route cannot be
 * moved to another intent, reordered, cut, extended or started elsewhere.
 */
export function routeViolation(
  intent: SignedSwapIntent,
  proof: RouteProof,
  verify: Verifier,
): string | undefined {
  const entry = intent.terms.entry;
  const route = proof.route;
  if (route.length === 0)
    return bytesEqual(entry, proof.solverNode) ? undefined : 'no route from the entry node to the solver';
  if (route.length > MAX_PAID_HOPS) return 'the route is too long to pay';
  if (!bytesEqual(route[0]!.node, entry)) return 'the route does not start at the entry node';
  const body = swapIntentBody(intent, proof.expiresAt);
  const check = checkRoute(
    { body, route },
    gossipIntentId(body),
    route.at(-1)!.node,
    proof.solverNode,
    verify,
  );
  return check.ok ? undefined : `the route is forged: ${check.reason}`;
}

/**
 * The notes a settlement creates to pay `proof`'s route for `intent`: per node on it, its share of
 * the intent's routeFee in the asset the intent wants, to the node key's token account, under the
 * key `rewardNoteKey` (so each payment is made once).
 */
export function rewardNotes(intent: SignedSwapIntent, proof: RouteProof): Note[] {
  const t = intent.terms;
  const swapId = intentId(t);
  return routePayouts(t.routeFee, proof.route).map((p) => ({
    provenance: [...t.want.of.provenance],
    application: t.want.of.application,
    owner: ownerCommitment(p.node),
    key: rewardNoteKey(swapId, p.node),
    value: encode(TokenValue, { asset: t.want.of.asset, amount: p.amount }),
  }));
}
