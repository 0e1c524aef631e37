/**
 * Signed routes: each forwarder appends its key and a signature over (intent id, the key it got
 * the intent from, the key it sends it to). A receiver checks every hop, the last one naming
 * itself as the next hop, so a route cannot be reordered, cut or extended in another's name.
 */
import type { Signer, Verifier } from '../../wire/sign.ts';
import { bytesEqual } from '../../wire/types.ts';
import { type Hop, hopSigningBytes, type Intent } from './messages.ts';

const NO_KEY = new Uint8Array(0);

/** The intent with this node's hop appended, addressed to `next`. */
export function appendHop(intent: Intent, id: Uint8Array, signer: Signer, next: Uint8Array): Intent {
  const last = intent.route.at(-1);
  const previous = last === undefined ? NO_KEY : last.node;
  const hop: Hop = { node: signer.publicKey, signature: signer.sign(hopSigningBytes(id, previous, next)) };
  return { body: intent.body, route: [...intent.route, hop] };
}

export type RouteCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'empty-route' | 'not-the-sender' | 'bad-route-signature' };

/**
 * Whether `intent`'s route is one the peer with key `sender` may send to `self`: not empty, its
 * last hop is the sender's, and every hop's signature covers its neighbours on the route.
 */
export function checkRoute(
  intent: Intent,
  id: Uint8Array,
  sender: Uint8Array,
  self: Uint8Array,
  verify: Verifier,
): RouteCheck {
  const route = intent.route;
  const last = route.at(-1);
  if (last === undefined) return { ok: false, reason: 'empty-route' };
  if (!bytesEqual(last.node, sender)) return { ok: false, reason: 'not-the-sender' };
  for (let i = route.length - 1; i >= 0; i--) {
    const previous = i === 0 ? NO_KEY : route[i - 1]!.node;
    const next = i === route.length - 1 ? self : route[i + 1]!.node;
    const hop = route[i]!;
    if (!verify(hop.node, hopSigningBytes(id, previous, next), hop.signature)) {
      return { ok: false, reason: 'bad-route-signature' };
    }
  }
  return { ok: true };
}

/** Whether `key` already forwarded this intent (a loop back to it). */
export const onRoute = (intent: Intent, key: Uint8Array): boolean =>
  intent.route.some((h) => bytesEqual(h.node, key));
