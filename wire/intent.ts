/**
 * Intents as the engines that carry and consume them see them: the gossip engine spreads them,
 * a solver takes the ones its filter wants. Seed 001: an intent is opaque bytes (`payload`), in a
 * body with what the carriers need in the clear: its topic (an application intent format, e.g.
 * `swap/v1/X/Y`), attributes filters can test (data, not code), the notes it would spend (so pools
 * drop it once one is spent on chain), an expiry height, an optional settlement-conditional fee,
 * and how many hops it may travel. Its id is sha256 of the body. The route it travelled comes
 * beside the body: each forwarder's key and signature over (intent id, previous hop, next hop).
 */
import { sha256 } from './commit.ts';
import { Hash } from './ledger.ts';
import { encode, type Infer, s } from './schema.ts';

/** Bytes of an intent's opaque payload the schema admits (a node may set a lower limit). */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
export const MAX_TOPIC_BYTES = 128;
export const MAX_ATTRIBUTES = 16;
export const MAX_INPUTS = 64;
/** Hops on a route: also the most hops an intent may be allowed. */
export const MAX_ROUTE = 32;

export const Topic = s.string({ max: MAX_TOPIC_BYTES });
export const NodeKey = s.bytes({ length: 32 });

/** An attribute value: a number (a size, an amount) or text (an asset pair). */
export const AttrValue = s.variant({ num: s.nat({ maxBytes: 32 }), text: s.string({ max: 128 }) });
export type AttrValue = Infer<typeof AttrValue>;

export const Attribute = s.struct({ key: s.string({ max: 32 }), value: AttrValue });
export type Attribute = Infer<typeof Attribute>;

/** The clear part of an intent; its id is sha256 of its encoding. */
export const IntentBody = s.struct({
  topic: Topic,
  attributes: s.list(Attribute, { max: MAX_ATTRIBUTES }),
  /** note ids or nullifiers of the notes the intent would spend */
  inputs: s.list(Hash, { max: MAX_INPUTS }),
  /** the last height before which it may settle (it is gone once the chain reaches it) */
  expiry: s.u64(),
  /**
   * optionally also a time (ms since the Unix epoch) after which pools drop it: a pool policy read
   * against each node's own clock, so only as exact as the clocks agree; the settlement's
   * predicates know heights only
   */
  expiresAt: s.option(s.u64()),
  /** paid to the route only if the intent settles */
  fee: s.option(s.u64()),
  /** hops it may travel: 1 keeps it with the peers it is sent to (directed broadcast) */
  maxHops: s.u8(),
  payload: s.bytes({ max: MAX_PAYLOAD_BYTES }),
});
export type IntentBody = Infer<typeof IntentBody>;

/** One forwarder: its key and its signature over (intent id, previous hop's key, next hop's key). */
export const Hop = s.struct({ node: NodeKey, signature: s.bytes({ length: 64 }) });
export type Hop = Infer<typeof Hop>;

export const Intent = s.struct({ body: IntentBody, route: s.list(Hop, { max: MAX_ROUTE }) });
export type Intent = Infer<typeof Intent>;

/** An intent's id: sha256 of its body's canonical bytes (the route is not part of it). */
export const intentId = (body: IntentBody): Uint8Array => sha256(encode(IntentBody, body));

const HopSigning = s.struct({
  domain: s.string({ max: 32 }),
  id: Hash,
  previous: s.bytes({ max: 32 }),
  next: NodeKey,
});

/** What a forwarder signs: the intent id, the key it got it from (empty at the origin), the key it sends it to. */
export const hopSigningBytes = (id: Uint8Array, previous: Uint8Array, next: Uint8Array): Uint8Array =>
  encode(HopSigning, { domain: 'fractal/intent-hop/v1', id, previous, next });

/** A live intent a node's filter matches, for local subscribers (a solver). */
export const DeliveredIntent = s.struct({
  id: Hash,
  body: IntentBody,
  route: s.list(Hop, { max: MAX_ROUTE }),
});
export type DeliveredIntent = Infer<typeof DeliveredIntent>;

/** Intents that left a pool, and why (expired, spent, evicted, invalid). */
export const IntentsGone = s.struct({ ids: s.list(Hash, { max: 1 << 16 }), reason: s.string({ max: 32 }) });
export type IntentsGone = Infer<typeof IntentsGone>;

/**
 * What the chain did (from the executor / ledger): the height it reached and the notes spent
 * there (note ids or nullifiers, as intents name their inputs).
 */
export const SpentNotes = s.struct({ height: s.u64(), spent: s.list(Hash, { max: 1 << 16 }) });
export type SpentNotes = Infer<typeof SpentNotes>;

const NOTE_ID_DOMAIN = new TextEncoder().encode('fractal/intent/note-id/v1\0');

/**
 * The id by which an intent names a note it would spend, and the ledger reports it spent: sha256
 * of the note's storage key (the key a transaction's read and write constraints name), so any
 * node derives it from a transaction alone.
 */
export function spentNoteId(storageKey: Uint8Array): Uint8Array {
  const msg = new Uint8Array(NOTE_ID_DOMAIN.length + storageKey.length);
  msg.set(NOTE_ID_DOMAIN, 0);
  msg.set(storageKey, NOTE_ID_DOMAIN.length);
  return sha256(msg);
}
