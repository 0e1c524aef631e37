/**
 * The intent gossip engine's XState machine: its states and transitions are the protocol.
 *
 *   idle        between inputs; its entry emits the step's effects and arms the heartbeat
 *   linking     a link came up or went down: greet the peer (tell it this node's filter), refuse
 *               a banned one, or forget it
 *   reading     a peer's bytes were read: refuse a banned peer, greet one that spoke first
 *   handling    the message, by kind: FILTER, GRAFT, PRUNE, IHAVE, IWANT, intents, or bad bytes
 *   scoring     after what may cost the peer score: disconnect it below the graylist
 *   publishing  a client's intent was checked: pool it, push it and reply, or reply why not
 *   heartbeat   the meshes were kept within bounds and recent ids gossiped; the rebroadcast
 *               (filter and live intents to every peer) when its interval is over
 *
 * Guards and actions are named and call the pure core (node.ts); none holds logic of its own.
 * The context is an immutable value, so the runtime's last good snapshot is the state before a
 * step that throws.
 */
import { assign, enqueueActions, setup } from 'xstate';
import type { Deadlines } from '../../runtime/deadlines.ts';
import type { EngineEmitted, EngineEvent, EngineHost, EngineInput } from '../../runtime/engine.ts';
import { verify as ed25519Verify } from '../../wire/sign.ts';
import type { GossipMessageTag } from './messages.ts';
import {
  admitIntents,
  adoptFilter,
  belowGraylist,
  checkSubmission,
  deadlinesOf,
  decodePeerMessage,
  disconnectPeer,
  type Effects,
  forgetPeer,
  type GossipConfig,
  type GossipEnv,
  type GossipState,
  greetPeer,
  hasRoomForPeer,
  heartbeat,
  initialState,
  isBanned,
  isTracked,
  joinEffects,
  learnFilter,
  NO_EFFECTS,
  onChain,
  onGraft,
  onIHave,
  onIWant,
  onPrune,
  type PeerMessage,
  penalise,
  publish,
  rebroadcast,
  rebroadcastDue,
  refusal,
  type Step,
  type Submission,
} from './node.ts';
import type { gossipInputs, gossipOutputs } from './ports.ts';

/** The input being processed, as read by the transitions that follow. */
export type Pending =
  | { readonly kind: 'submit'; readonly id: string; readonly check: Submission }
  | { readonly kind: 'net'; readonly peer: string; readonly message: PeerMessage }
  | { readonly kind: 'link'; readonly peer: string; readonly up: boolean };

export interface GossipContext extends GossipState {
  readonly pending: Pending | null;
  /** the effects of the input in progress, emitted when it settles */
  readonly out: Effects;
  /** intents pooled and peers tracked (mirrors, for the inspector and tests) */
  readonly size: number;
  readonly peerCount: number;
  readonly deadlines: Deadlines;
}

type Events = EngineEvent<typeof gossipInputs>;
type Emitted = EngineEmitted<typeof gossipOutputs>;
type Arg = { context: GossipContext; event: Events };

const stepped = (context: GossipContext, step: Step): Partial<GossipContext> => ({
  ...step.state,
  out: joinEffects(context.out, step.effects),
});

const submitted = (context: GossipContext) => {
  const p = context.pending;
  if (p?.kind !== 'submit') throw new Error('gossip: no submission in progress');
  return p;
};

const fromPeer = (context: GossipContext) => {
  const p = context.pending;
  if (p?.kind !== 'net') throw new Error('gossip: no peer message in progress');
  return p;
};

const link = (context: GossipContext) => {
  const p = context.pending;
  if (p?.kind !== 'link') throw new Error('gossip: no link change in progress');
  return p;
};

/** The peer the input in progress is about. */
const peerOf = (context: GossipContext): string => {
  const p = context.pending;
  if (p === null || p.kind === 'submit') throw new Error('gossip: no peer input in progress');
  return p.peer;
};

/** The well-formed message in progress, when it is of kind `tag`. */
function messageOf<T extends GossipMessageTag>(context: GossipContext, tag: T) {
  const m = fromPeer(context).message;
  if (!m.ok || m.message.tag !== tag) throw new Error(`gossip: not a ${tag} message`);
  return m.message as Extract<typeof m.message, { tag: T }>;
}

const messageIs =
  (tag: GossipMessageTag) =>
  ({ context }: Arg): boolean => {
    const m = fromPeer(context).message;
    return m.ok && m.message.tag === tag;
  };

/** The machine, given the host and the application's receiver-side check (see GossipEnv). */
export function createGossipMachine(host: EngineHost, stillValid?: GossipEnv['stillValid']) {
  const env: GossipEnv = {
    signer: host.signer,
    verify: host.verify ?? ed25519Verify,
    ...(stillValid === undefined ? {} : { stillValid }),
  };

  return setup({
    types: {} as {
      context: GossipContext;
      events: Events;
      emitted: Emitted;
      input: EngineInput<GossipConfig>;
    },
    guards: {
      'a banned peer': ({ context, event }) => isBanned(context, peerOf(context), event.now),
      'no room for another peer': ({ context }) =>
        !isTracked(context, peerOf(context)) && !hasRoomForPeer(context),
      'a link up': ({ context }) => link(context).up,
      'a peer not yet greeted': ({ context }) => !isTracked(context, peerOf(context)),
      'bad bytes': ({ context }) => !fromPeer(context).message.ok,
      'a filter': messageIs('filter'),
      'a graft': messageIs('graft'),
      'a prune': messageIs('prune'),
      'an ihave': messageIs('ihave'),
      'an iwant': messageIs('iwant'),
      intents: messageIs('intents'),
      'the peer sank below the graylist': ({ context }) => belowGraylist(context, peerOf(context)),
      'passes every check': ({ context }) => submitted(context).check.ok,
      'the heartbeat deadline': ({ event }) => event.type === 'timeout' && event.name === 'heartbeat',
      'the rebroadcast is due': ({ context, event }) => rebroadcastDue(context, event.now),
    },
    actions: {
      // links
      'note the link': assign(({ event }) => {
        if (event.type !== 'peers') return {};
        return { pending: { kind: 'link', peer: event.msg.peer, up: event.msg.up } };
      }),
      'greet the peer': assign(({ context }) => stepped(context, greetPeer(context, peerOf(context), env))),
      'forget the peer': assign(({ context }) => forgetPeer(context, peerOf(context))),
      'refuse the banned peer': assign(({ context }) => ({
        out: joinEffects(context.out, { disconnects: [{ peer: peerOf(context), reason: 'banned' }] }),
      })),
      'refuse, too many peers': assign(({ context }) => ({
        out: joinEffects(context.out, { disconnects: [{ peer: peerOf(context), reason: 'too-many-peers' }] }),
      })),
      // peer messages
      'read the peer message': assign(({ context, event }) => {
        if (event.type !== 'net') return {};
        const message = decodePeerMessage(context, event.msg.bytes);
        return { pending: { kind: 'net', peer: event.msg.peer, message } };
      }),
      'penalise the peer': assign(({ context }) => {
        const { peer, message } = fromPeer(context);
        if (message.ok) throw new Error('gossip: penalising a well-formed message');
        return stepped(context, penalise(context, peer, message.reason));
      }),
      "learn the peer's filter": assign(({ context }) => {
        const { value } = messageOf(context, 'filter');
        return stepped(context, learnFilter(context, peerOf(context), value.node, value.filter, env));
      }),
      'graft the peer': assign(({ context, event }) =>
        stepped(
          context,
          onGraft(context, peerOf(context), messageOf(context, 'graft').value.topics, event.now),
        ),
      ),
      'prune the peer': assign(({ context, event }) => {
        const { topics, backoff } = messageOf(context, 'prune').value;
        return onPrune(context, peerOf(context), topics, backoff, event.now);
      }),
      'ask for the missing intents': assign(({ context, event }) =>
        stepped(context, onIHave(context, peerOf(context), messageOf(context, 'ihave').value.ids, event.now)),
      ),
      'serve the wanted intents': assign(({ context }) =>
        stepped(context, onIWant(context, peerOf(context), messageOf(context, 'iwant').value.ids, env)),
      ),
      'admit the intents': assign(({ context, event }) =>
        stepped(
          context,
          admitIntents(context, peerOf(context), messageOf(context, 'intents').value.intents, event.now, env),
        ),
      ),
      'disconnect the peer': assign(({ context, event }) =>
        stepped(context, disconnectPeer(context, peerOf(context), 'score', event.now)),
      ),
      // clients
      'check the intent': assign(({ context, event }) => {
        if (event.type !== 'submit') return {};
        return {
          pending: {
            kind: 'submit',
            id: event.msg.id,
            check: checkSubmission(context, event.msg, event.now, env),
          },
        };
      }),
      'pool it, push it, reply accepted': assign(({ context }) => {
        const p = submitted(context);
        if (!p.check.ok) throw new Error('gossip: publishing a refused intent');
        return stepped(context, publish(context, p.id, p.check, env));
      }),
      'reply with the reason': assign(({ context }) => {
        const p = submitted(context);
        if (p.check.ok) throw new Error('gossip: refusing an accepted intent');
        return { out: joinEffects(context.out, { replies: [refusal(p.id, p.check)] }) };
      }),
      // the chain, this node's filter
      'drop the expired and the spent': assign(({ context, event }) => {
        if (event.type !== 'spent') return {};
        return stepped(context, onChain(context, event.msg.height, event.msg.spent));
      }),
      'adopt and announce the filter': assign(({ context, event }) => {
        if (event.type !== 'filter') return {};
        return stepped(context, adoptFilter(context, event.msg, event.now, env));
      }),
      // the heartbeat
      'keep the meshes, gossip recent ids': assign(({ context, event }) =>
        stepped(context, heartbeat(context, event.now)),
      ),
      'rebroadcast the filter and live intents': assign(({ context, event }) =>
        stepped(context, rebroadcast(context, event.now, env)),
      ),
      // settling
      'arm the timers': assign(({ context }) => ({
        size: context.poolCount,
        peerCount: Object.keys(context.peers).length,
        deadlines: deadlinesOf(context),
      })),
      'emit the effects': enqueueActions(({ context, enqueue }) => {
        const fx = context.out;
        for (const r of fx.replies) enqueue.emit({ type: 'submitted', msg: r });
        for (const d of fx.delivered) enqueue.emit({ type: 'intents', msg: d });
        for (const g of fx.gone) enqueue.emit({ type: 'gone', msg: g });
        for (const m of fx.sends) enqueue.emit({ type: 'net', msg: m });
        for (const p of fx.penalties) enqueue.emit({ type: 'penalty', msg: p });
        for (const d of fx.disconnects) enqueue.emit({ type: 'disconnect', msg: d });
        if (fx !== NO_EFFECTS || context.pending !== null) enqueue.assign({ out: NO_EFFECTS, pending: null });
      }),
    },
  }).createMachine({
    id: 'gossip',
    context: ({ input }) => {
      const state = initialState(input.config, input.seed, input.now);
      return {
        ...state,
        pending: null,
        out: NO_EFFECTS,
        size: 0,
        peerCount: 0,
        deadlines: deadlinesOf(state),
      };
    },
    initial: 'idle',
    states: {
      /** Between inputs: every input starts here. */
      idle: {
        entry: ['arm the timers', 'emit the effects'],
        on: {
          net: { target: 'reading', actions: 'read the peer message' },
          submit: { target: 'publishing', actions: 'check the intent' },
          peers: { target: 'linking', actions: 'note the link' },
          // re-entering idle emits the step's effects
          spent: { target: 'idle', reenter: true, actions: 'drop the expired and the spent' },
          filter: { target: 'idle', reenter: true, actions: 'adopt and announce the filter' },
          timeout: {
            guard: 'the heartbeat deadline',
            target: 'heartbeat',
            actions: 'keep the meshes, gossip recent ids',
          },
        },
      },
      /** A link came up or went down. */
      linking: {
        always: [
          { guard: 'a banned peer', target: 'idle', actions: 'refuse the banned peer' },
          { guard: 'a link up', target: 'idle', actions: 'greet the peer' },
          { target: 'idle', actions: 'forget the peer' },
        ],
      },
      /** A peer's bytes were read. */
      reading: {
        always: [
          { guard: 'a banned peer', target: 'idle', actions: 'refuse the banned peer' },
          { guard: 'no room for another peer', target: 'idle', actions: 'refuse, too many peers' },
          { guard: 'a peer not yet greeted', target: 'handling', actions: 'greet the peer' },
          { target: 'handling' },
        ],
      },
      /** The message, by kind. */
      handling: {
        always: [
          { guard: 'bad bytes', target: 'scoring', actions: 'penalise the peer' },
          { guard: 'a filter', target: 'idle', actions: "learn the peer's filter" },
          { guard: 'a graft', target: 'idle', actions: 'graft the peer' },
          { guard: 'a prune', target: 'idle', actions: 'prune the peer' },
          { guard: 'an ihave', target: 'idle', actions: 'ask for the missing intents' },
          { guard: 'an iwant', target: 'idle', actions: 'serve the wanted intents' },
          { guard: 'intents', target: 'scoring', actions: 'admit the intents' },
        ],
      },
      /** What the peer sent may have cost it score. */
      scoring: {
        always: [
          { guard: 'the peer sank below the graylist', target: 'idle', actions: 'disconnect the peer' },
          { target: 'idle' },
        ],
      },
      /** A client's intent went through every check. */
      publishing: {
        always: [
          { guard: 'passes every check', target: 'idle', actions: 'pool it, push it, reply accepted' },
          { target: 'idle', actions: 'reply with the reason' },
        ],
      },
      /** The meshes were kept and recent ids gossiped. */
      heartbeat: {
        always: [
          {
            guard: 'the rebroadcast is due',
            target: 'idle',
            actions: 'rebroadcast the filter and live intents',
          },
          { target: 'idle' },
        ],
      },
    },
  });
}
