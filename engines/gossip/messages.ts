/**
 * What intent gossip nodes say to each other, with wire schemas.
 *
 * An intent is opaque bytes (seed 001) wrapped in what the gossip layer needs in the clear: its
 * topic (an application intent format, e.g. `swap/v1/X/Y`), attributes a peer's filter can test
 * (asset pair, size: data, not code, so filters cross the wire), the notes it would spend (so a
 * pool drops it once one is spent on chain), an expiry height, an optional settlement-conditional
 * fee, and how many hops it may travel. Its id is sha256 of that body. The route it travelled
 * comes beside the body: each forwarder appends its key and an ed25519 signature over (intent id,
 * previous hop, next hop), so a route cannot be reordered, shortened in the middle or extended
 * in anyone else's name (the reward split of issue 17 is computed from it).
 *
 * Control messages follow gossipsub v1.1: GRAFT / PRUNE a topic's mesh, IHAVE (ids of intents the
 * sender holds), IWANT (ids it asks for); FILTER says what the sender wants (topics and a
 * predicate) and which key signs its hops. Every message travels in a `GossipNetMessage` naming
 * the overlay in the clear, as the mempool's names its instance.
 */
import { sha256 } from '../../wire/commit.ts';
import { Hash } from '../../wire/ledger.ts';
import { encode, type Infer, s } from '../../wire/schema.ts';

/** Bytes of an intent's opaque payload the schema admits (a node may set a lower limit). */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
export const MAX_TOPIC_BYTES = 128;
export const MAX_ATTRIBUTES = 16;
export const MAX_INPUTS = 64;
/** Hops on a route: also the most hops an intent may be allowed. */
export const MAX_ROUTE = 32;
export const MAX_FILTER_TOPICS = 64;
export const MAX_FILTER_CLAUSES = 16;
/** Intents in one `intents` message. */
export const MAX_INTENTS_PER_MESSAGE = 64;
/** Ids in one IHAVE or IWANT. */
export const MAX_IDS = 1024;
/** Topics in one GRAFT or PRUNE. */
export const MAX_CONTROL_TOPICS = 64;

const Topic = s.string({ max: MAX_TOPIC_BYTES });
const Key = s.bytes({ length: 32 });

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
  /** paid to the route only if the intent settles */
  fee: s.option(s.u64()),
  /** hops it may travel: 1 keeps it with the peers it is sent to (directed broadcast) */
  maxHops: s.u8(),
  payload: s.bytes({ max: MAX_PAYLOAD_BYTES }),
});
export type IntentBody = Infer<typeof IntentBody>;

/** One forwarder: its key and its signature over (intent id, previous hop's key, next hop's key). */
export const Hop = s.struct({ node: Key, signature: s.bytes({ length: 64 }) });
export type Hop = Infer<typeof Hop>;

export const Intent = s.struct({ body: IntentBody, route: s.list(Hop, { max: MAX_ROUTE }) });
export type Intent = Infer<typeof Intent>;

/** A clause of a filter's predicate over an intent's attributes (a missing attribute fails it). */
export const Clause = s.struct({
  key: s.string({ max: 32 }),
  op: s.variant({ eq: AttrValue, atLeast: s.nat({ maxBytes: 32 }), atMost: s.nat({ maxBytes: 32 }) }),
});
export type Clause = Infer<typeof Clause>;

/** What a node wants: intents on one of `topics` whose attributes satisfy every clause. */
export const Filter = s.struct({
  topics: s.list(Topic, { max: MAX_FILTER_TOPICS }),
  where: s.list(Clause, { max: MAX_FILTER_CLAUSES }),
});
export type Filter = Infer<typeof Filter>;

const Topics = s.list(Topic, { max: MAX_CONTROL_TOPICS });

export const GossipMessage = s.variant({
  /** the sender's filter and the key its hops are signed with */
  filter: s.struct({ node: Key, filter: Filter }),
  graft: s.struct({ topics: Topics }),
  /** `backoff`: ms before the pruned peer may graft the topic again */
  prune: s.struct({ topics: Topics, backoff: s.u32() }),
  ihave: s.struct({ ids: s.list(Hash, { max: MAX_IDS }) }),
  iwant: s.struct({ ids: s.list(Hash, { max: MAX_IDS }) }),
  intents: s.struct({ intents: s.list(Intent, { max: MAX_INTENTS_PER_MESSAGE }) }),
});
export type GossipMessage = Infer<typeof GossipMessage>;
export type GossipMessageTag = GossipMessage['tag'];

export const GossipNetMessage = s.struct({ overlay: s.string({ max: 64 }), message: GossipMessage });
export type GossipNetMessage = Infer<typeof GossipNetMessage>;

/** Decode limits: a full `intents` message is larger than the codec's default 4 MiB. */
const MAX_MESSAGE_BYTES = MAX_INTENTS_PER_MESSAGE * (MAX_PAYLOAD_BYTES + 8 * 1024) + 64 * 1024;
export const GOSSIP_LIMITS = { maxBytes: MAX_MESSAGE_BYTES, maxLength: MAX_MESSAGE_BYTES, maxDepth: 16 };

/** An intent's id: sha256 of its body's canonical bytes (the route is not part of it). */
export const intentId = (body: IntentBody): Uint8Array => sha256(encode(IntentBody, body));

const HopSigning = s.struct({
  domain: s.string({ max: 32 }),
  id: Hash,
  previous: s.bytes({ max: 32 }),
  next: Key,
});

/** What a forwarder signs: the intent id, the key it got it from (empty at the origin), the key it sends it to. */
export const hopSigningBytes = (id: Uint8Array, previous: Uint8Array, next: Uint8Array): Uint8Array =>
  encode(HopSigning, { domain: 'fractal/intent-hop/v1', id, previous, next });
