/**
 * What intent gossip nodes say to each other, with wire schemas.
 *
 * Intents themselves (body, route, id, hop signing) are wire/intent.ts's, shared with the engines
 * that consume them; re-exported here. A route cannot be reordered, shortened in the middle or
 * extended in anyone else's name (the reward split of issue 17 is computed from it).
 *
 * Control messages follow gossipsub v1.1: GRAFT / PRUNE a topic's mesh, IHAVE (ids of intents the
 * sender holds), IWANT (ids it asks for); FILTER says what the sender wants (topics and a
 * predicate) and which key signs its hops. Every message travels in a `GossipNetMessage` naming
 * the overlay in the clear, as the mempool's names its instance.
 */
import { AttrValue, Intent, NodeKey as Key, MAX_PAYLOAD_BYTES, Topic } from '../../wire/intent.ts';
import { Hash } from '../../wire/ledger.ts';
import { type Infer, s } from '../../wire/schema.ts';

export {
  Attribute,
  AttrValue,
  Hop,
  hopSigningBytes,
  Intent,
  IntentBody,
  intentId,
  MAX_ATTRIBUTES,
  MAX_INPUTS,
  MAX_PAYLOAD_BYTES,
  MAX_ROUTE,
  MAX_TOPIC_BYTES,
} from '../../wire/intent.ts';

export const MAX_FILTER_TOPICS = 64;
export const MAX_FILTER_CLAUSES = 16;
/** Intents in one `intents` message. */
export const MAX_INTENTS_PER_MESSAGE = 64;
/** Ids in one IHAVE or IWANT. */
export const MAX_IDS = 1024;
/** Topics in one GRAFT or PRUNE. */
export const MAX_CONTROL_TOPICS = 64;

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
