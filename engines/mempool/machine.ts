/**
 * The mempool engine's XState machine: its states and transitions are the mempool's protocol.
 *
 *   waiting      between inputs; `batchSent` (consensus has the pool's batch) or `batchDue` (the
 *                pool changed inside the batch interval: the batch goes at the `batch` deadline)
 *   admission    a client's envelope was checked: admit it (pool, announce, reply) or reply why not
 *   gossip       a peer's message was read: penalise it, pull what it announced (lazy ids),
 *                serve what it requested, or admit the bodies it was asked for
 *   recheck      a block committed: its envelopes left; expired and unpayable ones leave too
 *   reaping      the pool may have changed: send the batch to consensus on `txs`, throttled
 *
 * Every input goes from `waiting` through one of these to `reaping` and back to `waiting`, whose
 * entry emits the step's effects and arms its timers. Guards and actions are named and call the
 * pure core (node.ts over pool.ts and gossip.ts); none holds logic of its own. The context is an
 * immutable value (no object in it is ever written after it is built), so the runtime's last good
 * snapshot is exactly the state before a step that throws.
 */
import { assign, enqueueActions, setup } from 'xstate';
import type { Deadlines } from '../../runtime/deadlines.ts';
import type { EngineEmitted, EngineEvent, EngineHost, EngineInput } from '../../runtime/engine.ts';
import { feeLedgerView } from '../../wire/fees.ts';
import { verify as ed25519Verify } from '../../wire/sign.ts';
import { decodePeerMessage, type PeerMessage } from './gossip.ts';
import {
  admitPulled,
  admitSubmission,
  armBatchDeadline,
  batchChanged,
  batchDue,
  checkSubmission,
  deadlinesOf,
  type Effects,
  endBatchInterval,
  gossipTick,
  initialState,
  joinEffects,
  learnEpochKey,
  type MempoolConfig,
  type MempoolState,
  markBatchCurrent,
  NO_EFFECTS,
  poolChanged,
  recheckPool,
  rejectionReply,
  requestMissing,
  type Step,
  sendBatch,
  serveRequested,
  takeCommitted,
  withinBatchInterval,
} from './node.ts';
import { type Check, isFull, type PoolEnv, poolSize } from './pool.ts';
import type { mempoolInputs, mempoolOutputs } from './ports.ts';

/** What the input being processed was found to be, read by the transitions that follow. */
export type Pending =
  | { readonly kind: 'submit'; readonly id: string; readonly check: Check }
  | { readonly kind: 'net'; readonly peer: string; readonly message: PeerMessage };

export interface MempoolContext extends MempoolState {
  /** the input in progress (null between inputs) */
  readonly pending: Pending | null;
  /** the effects of the input in progress, emitted when it settles (empty between inputs) */
  readonly out: Effects;
  /** envelopes and bytes pooled (mirrors the pool, for the inspector and the node's status) */
  readonly size: number;
  readonly bytes: number;
  readonly full: boolean;
  readonly deadlines: Deadlines;
}

type Events = EngineEvent<typeof mempoolInputs>;
type Emitted = EngineEmitted<typeof mempoolOutputs>;
type Arg = { context: MempoolContext; event: Events };

/** The context after a step of the core: its state, its effects appended to the input's. */
const stepped = (context: MempoolContext, step: Step): Partial<MempoolContext> => ({
  ...step.state,
  out: joinEffects(context.out, step.effects),
});

const submitted = (context: MempoolContext) => {
  const p = context.pending;
  if (p?.kind !== 'submit') throw new Error('mempool: no submission in progress');
  return p;
};

const message = (context: MempoolContext) => {
  const p = context.pending;
  if (p?.kind !== 'net') throw new Error('mempool: no peer message in progress');
  return p;
};

const peerMessageIs =
  (tag: 'announce' | 'request' | 'envelopes') =>
  ({ context }: Arg): boolean => {
    const m = message(context).message;
    return m.ok && m.message.tag === tag;
  };

export function createMempoolMachine(host: EngineHost) {
  const env: PoolEnv = {
    verify: host.verify ?? ed25519Verify,
    ledger: host.storage === undefined ? undefined : feeLedgerView(host.storage),
  };

  return setup({
    types: {} as {
      context: MempoolContext;
      events: Events;
      emitted: Emitted;
      input: EngineInput<MempoolConfig>;
    },
    guards: {
      'passes every check': ({ context }) => submitted(context).check.ok,
      'not a message of this instance': ({ context }) => !message(context).message.ok,
      'an announcement': peerMessageIs('announce'),
      'a request': peerMessageIs('request'),
      'requested bodies': peerMessageIs('envelopes'),
      'the batch deadline': ({ event }) => event.type === 'timeout' && event.name === 'batch',
      'the gossip deadline': ({ event }) => event.type === 'timeout' && event.name === 'gossip',
      'pool changed within the batch interval': ({ context, event }) =>
        poolChanged(context) && withinBatchInterval(context, event.now),
      'pool unchanged, the batch deadline armed': ({ context }) => !poolChanged(context) && batchDue(context),
      'pool and its batch changed': ({ context }) => poolChanged(context) && batchChanged(context),
    },
    actions: {
      // admission
      'check the envelope': assign(({ context, event }) => {
        if (event.type !== 'submit') return {};
        const check = checkSubmission(context, event.msg.bytes, env);
        return { pending: { kind: 'submit', id: event.msg.id, check } };
      }),
      'pool it, announce it, reply admitted': assign(({ context, event }) => {
        const p = submitted(context);
        if (!p.check.ok) throw new Error('mempool: admitting a refused envelope');
        return stepped(context, admitSubmission(context, p.id, p.check, event.now));
      }),
      'reply with the reason': assign(({ context }) => {
        const p = submitted(context);
        if (p.check.ok) throw new Error('mempool: refusing an admissible envelope');
        return { out: joinEffects(context.out, { replies: [rejectionReply(p.id, p.check)] }) };
      }),
      // gossip
      'read the peer message': assign(({ context, event }) => {
        if (event.type !== 'net') return {};
        const m = decodePeerMessage(context.gossip, event.msg.bytes);
        return { pending: { kind: 'net', peer: event.msg.peer, message: m } };
      }),
      'penalise the peer': assign(({ context }) => {
        const { peer, message: m } = message(context);
        if (m.ok) throw new Error('mempool: penalising a well-formed message');
        return { out: joinEffects(context.out, { penalties: [{ peer, reason: m.reason }] }) };
      }),
      'request the missing bodies': assign(({ context, event }) => {
        const { peer, message: m } = message(context);
        if (!m.ok || m.message.tag !== 'announce') throw new Error('mempool: not an announcement');
        return stepped(context, requestMissing(context, peer, m.message.value.hashes, event.now));
      }),
      'serve the requested bodies': assign(({ context, event }) => {
        const { peer, message: m } = message(context);
        if (!m.ok || m.message.tag !== 'request') throw new Error('mempool: not a request');
        return stepped(context, serveRequested(context, peer, m.message.value.hashes, event.now));
      }),
      'admit the pulled bodies': assign(({ context, event }) => {
        const { peer, message: m } = message(context);
        if (!m.ok || m.message.tag !== 'envelopes') throw new Error('mempool: not requested bodies');
        return stepped(context, admitPulled(context, peer, m.message.value.envelopes, event.now, env));
      }),
      'announce admissions, re-request overdue': assign(({ context, event }) =>
        stepped(context, gossipTick(context, event.now)),
      ),
      // recheck, epochs
      "take the block's envelopes out": assign(({ context, event }) => {
        if (event.type !== 'committed') return {};
        return takeCommitted(context, event.msg, env);
      }),
      'drop the expired and the unpayable': assign(({ context }) => recheckPool(context, env)),
      'learn the epoch key': assign(({ context, event }) => {
        if (event.type !== 'epochKey') return {};
        return learnEpochKey(context, event.msg.epoch, event.msg.publicKey);
      }),
      // reaping
      'end the batch interval': assign(({ context }) => endBatchInterval(context)),
      'arm the batch deadline': assign(({ context }) => armBatchDeadline(context)),
      'send the batch to consensus': assign(({ context, event }) =>
        stepped(context, sendBatch(context, event.now)),
      ),
      'mark the batch current': assign(({ context }) => markBatchCurrent(context)),
      // settling
      'arm the timers': assign(({ context }) => ({
        size: poolSize(context.pool),
        bytes: context.pool.bytes,
        full: isFull(context.pool),
        deadlines: deadlinesOf(context),
      })),
      'emit the effects': enqueueActions(({ context, enqueue }) => {
        const fx = context.out;
        for (const r of fx.replies) enqueue.emit({ type: 'admitted', msg: r });
        for (const b of fx.batches) enqueue.emit({ type: 'txs', msg: b });
        for (const m of fx.sends) enqueue.emit({ type: 'net', msg: m });
        for (const p of fx.penalties) enqueue.emit({ type: 'penalty', msg: p });
        if (fx !== NO_EFFECTS || context.pending !== null) enqueue.assign({ out: NO_EFFECTS, pending: null });
      }),
    },
  }).createMachine({
    id: 'mempool',
    context: ({ input }) => {
      const state = initialState(input.config);
      return {
        ...state,
        pending: null,
        out: NO_EFFECTS,
        size: 0,
        bytes: 0,
        full: isFull(state.pool),
        deadlines: deadlinesOf(state),
      };
    },
    initial: 'waiting',
    states: {
      /** Between inputs: every input starts here. */
      waiting: {
        entry: ['arm the timers', 'emit the effects'],
        initial: 'batchSent',
        on: {
          submit: { target: 'admission', actions: 'check the envelope' },
          net: { target: 'gossip', actions: 'read the peer message' },
          committed: { target: 'recheck', actions: "take the block's envelopes out" },
          epochKey: { target: 'reaping', actions: 'learn the epoch key' },
          timeout: [
            { guard: 'the batch deadline', target: 'reaping', actions: 'end the batch interval' },
            {
              guard: 'the gossip deadline',
              target: 'reaping',
              actions: 'announce admissions, re-request overdue',
            },
          ],
        },
        states: {
          /** Consensus has the pool's batch (or the pool is as the last batch decision saw it). */
          batchSent: {},
          /** The pool changed inside the batch interval: the batch goes at the `batch` deadline. */
          batchDue: {},
        },
      },
      /** A client's envelope went through every check (cheapest first): admit or refuse. */
      admission: {
        always: [
          {
            guard: 'passes every check',
            target: 'reaping',
            actions: 'pool it, announce it, reply admitted',
          },
          { target: 'reaping', actions: 'reply with the reason' },
        ],
      },
      /** A peer's message was read. */
      gossip: {
        always: [
          { guard: 'not a message of this instance', target: 'reaping', actions: 'penalise the peer' },
          { guard: 'an announcement', target: 'reaping', actions: 'request the missing bodies' },
          { guard: 'a request', target: 'reaping', actions: 'serve the requested bodies' },
          { guard: 'requested bodies', target: 'reaping', actions: 'admit the pulled bodies' },
        ],
      },
      /** A block committed and its envelopes left the pool; the rest was rechecked. */
      recheck: {
        always: { target: 'reaping', actions: 'drop the expired and the unpayable' },
      },
      /** The batch for the next proposal, at most once per interval. */
      reaping: {
        always: [
          {
            guard: 'pool changed within the batch interval',
            target: 'waiting.batchDue',
            actions: 'arm the batch deadline',
          },
          { guard: 'pool unchanged, the batch deadline armed', target: 'waiting.batchDue' },
          {
            guard: 'pool and its batch changed',
            target: 'waiting.batchSent',
            actions: 'send the batch to consensus',
          },
          { target: 'waiting.batchSent', actions: 'mark the batch current' },
        ],
      },
    },
  });
}
