/**
 * The gossip engine's port messages. NetIn, NetOut and PeerPenalty are shared with the other
 * engines that talk to peers (wire/ports.ts); DeliveredIntent, IntentsGone and SpentNotes with the
 * engines that consume intents, such as a solver (wire/intent.ts); the rest are the gossip
 * engine's own.
 */
import { DeliveredIntent, IntentBody, IntentsGone, SpentNotes } from '../../wire/intent.ts';
import { Hash } from '../../wire/ledger.ts';
import { NetIn, NetOut, PeerPenalty } from '../../wire/ports.ts';
import { type Infer, s } from '../../wire/schema.ts';
import { Filter } from './messages.ts';

export { DeliveredIntent, IntentsGone, NetIn, NetOut, PeerPenalty, SpentNotes };

/**
 * An intent from a local client (RPC, an app): undirected when `to` is empty (the overlay at
 * large), else directed to those peers only. `id` is echoed in the reply.
 */
export const SubmitIntent = s.struct({
  id: s.string({ max: 64 }),
  body: IntentBody,
  to: s.list(s.string({ max: 128 }), { max: 64 }),
});
export type SubmitIntent = Infer<typeof SubmitIntent>;

/** The answer to one `submit`: the intent id, and the reason when refused. */
export const IntentReply = s.struct({
  id: s.string({ max: 64 }),
  ok: s.bool(),
  intent: Hash,
  reason: s.option(s.string({ max: 32 })),
});
export type IntentReply = Infer<typeof IntentReply>;

/** A peer connection came up or went down (from the transport). */
export const PeerLink = s.struct({ peer: s.string({ max: 128 }), up: s.bool() });
export type PeerLink = Infer<typeof PeerLink>;

/** A peer this node will no longer talk to: the transport should close the connection. */
export const DisconnectPeer = s.struct({ peer: s.string({ max: 128 }), reason: s.string({ max: 32 }) });
export type DisconnectPeer = Infer<typeof DisconnectPeer>;

export const gossipInputs = {
  net: NetIn,
  submit: SubmitIntent,
  peers: PeerLink,
  spent: SpentNotes,
  /** this node's filter changed (a solver took on another pair) */
  filter: Filter,
};

export const gossipOutputs = {
  net: NetOut,
  submitted: IntentReply,
  intents: DeliveredIntent,
  gone: IntentsGone,
  penalty: PeerPenalty,
  disconnect: DisconnectPeer,
};
