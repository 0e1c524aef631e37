/**
 * The consensus engine's XState machine. Its states are the protocol's steps; which one is current
 * follows the round state machine (`context.round.step`) through eventless transitions, so the
 * statechart shows every propose -> prevote -> precommit -> commit move the protocol makes.
 *
 * All decisions are made by the pure modules (node.ts, round.ts, votekeeper.ts); the machine only
 * routes port events to them and emits their effects.
 */
import { enqueueActions, setup } from 'xstate';
import type { EngineEmitted, EngineEvent, EngineHost, EngineInput } from '../../runtime/engine.ts';
import { verify as ed25519Verify } from '../../wire/sign.ts';
import {
  type ConsensusConfig,
  type ConsensusState,
  type Effects,
  type Env,
  emptyEffects,
  initialState,
  onAppRoot,
  onNet,
  onTimeout,
  onTxs,
} from './node.ts';
import type { consensusInputs, consensusOutputs } from './ports.ts';
import type { Step } from './round.ts';
import { ConsensusStore } from './store.ts';

export interface ConsensusContext extends ConsensusState {
  /** Effects produced while building the initial state (WAL re-sends), emitted on entry. */
  readonly startup: Effects | null;
}

type Events = EngineEvent<typeof consensusInputs>;
type Emitted = EngineEmitted<typeof consensusOutputs>;

const STEPS: readonly Step[] = ['propose', 'prevote', 'precommit', 'commit'];

export function createConsensusMachine(host: EngineHost) {
  if (host.storage === undefined) throw new Error('consensus needs storage (WAL and block store)');
  const store = new ConsensusStore(host.storage);
  const verify = host.verify ?? ed25519Verify;
  const env = (now: number): Env => ({ signer: host.signer, verify, store, now });

  const emitAll = (enqueue: { emit: (e: Emitted) => void }, fx: Effects): void => {
    for (const m of fx.sends) enqueue.emit({ type: 'net', msg: m });
    for (const c of fx.committed) enqueue.emit({ type: 'committed', msg: c });
    for (const p of fx.penalties) enqueue.emit({ type: 'penalty', msg: { peer: p.peer, reason: p.reason } });
  };

  /** Eventless transitions from `step` to whichever step the round state machine is in. */
  const follow = (step: Step) =>
    STEPS.filter((other) => other !== step).map((other) => ({
      guard: ({ context }: { context: ConsensusContext }) => context.round.step === other,
      target: other,
    }));

  return setup({
    types: {} as {
      context: ConsensusContext;
      events: Events;
      emitted: Emitted;
      input: EngineInput<ConsensusConfig>;
    },
    actions: {
      emitStartup: enqueueActions(({ context, enqueue }) => {
        if (context.startup === null) return;
        emitAll(enqueue, context.startup);
        enqueue.assign({ startup: null });
      }),
      handle: enqueueActions(({ context, event, enqueue }) => {
        const fx = emptyEffects();
        const e = env(event.now);
        let next: ConsensusState;
        switch (event.type) {
          case 'net':
            next = onNet(context, event.msg.peer, event.msg.bytes, e, fx);
            break;
          case 'txs':
            next = onTxs(context, event.msg);
            break;
          case 'appRoot':
            next = onAppRoot(context, event.msg.height, event.msg.root, event.msg.validatorUpdates, e, fx);
            break;
          case 'timeout':
            next = onTimeout(context, event.name, e, fx);
            break;
        }
        enqueue.assign(next as Partial<ConsensusContext>);
        emitAll(enqueue, fx);
      }),
    },
  }).createMachine({
    id: 'consensus',
    context: ({ input }) => {
      const { state, effects } = initialState(input.config, env(input.now));
      return { ...state, startup: effects };
    },
    entry: 'emitStartup',
    initial: 'propose',
    on: {
      net: { actions: 'handle' },
      txs: { actions: 'handle' },
      appRoot: { actions: 'handle' },
      timeout: { actions: 'handle' },
    },
    states: {
      propose: { always: follow('propose') },
      prevote: { always: follow('prevote') },
      precommit: { always: follow('precommit') },
      commit: { always: follow('commit') },
    },
  });
}
