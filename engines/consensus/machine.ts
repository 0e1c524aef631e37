/**
 * The consensus engine's XState machine: the height-level phases of Tendermint. A height waits for
 * the app root of the one before (a restarted node), runs its rounds, decides, and, when the app
 * root is part of the next block, waits for the executor's root before it moves on.
 *
 * The rounds themselves are the round machine (round-machine.ts), which node.ts runs on every
 * input: its chart is the `consensus.round` statechart, with the rules of Algorithm 1.
 * Every decision is made by the pure modules (node.ts, round.ts, votekeeper.ts); this machine
 * routes each port's events to them, emits their effects, and names the phase they leave it in.
 *
 * Storage is read-only to a step: the core reads and writes a staged view of it (its own writes
 * visible to its later reads), and the machine hands the step's writes (the WAL entry of a
 * signature, a committed block, an app root, a validator set) to the runtime as one `persist`
 * effect, which lands atomically before any of the step's messages leave: write-ahead. A step
 * that fails leaves storage as it was.
 */
import { enqueueActions, setup } from 'xstate';
import type { EngineEffect, EngineEvent, EngineHost, EngineInput } from '../../runtime/engine.ts';
import { StagedStorage } from '../../storage/staged.ts';
import type { BatchOp } from '../../storage/types.ts';
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
import { ConsensusStore } from './store.ts';

/**
 * The machine's context: the pure core's state as one value (so a step replaces one field, not
 * the core's thirty), its deadlines where the runtime arms them, and the startup effects.
 */
export interface ConsensusContext {
  readonly core: ConsensusState;
  readonly deadlines: ConsensusState['deadlines'];
  /**
   * Effects produced while building the initial state (WAL re-sends) and its writes (the genesis
   * validator set), carried out on entry.
   */
  readonly startup: { readonly effects: Effects; readonly writes: readonly BatchOp[] } | null;
}

/** The core state in a consensus engine's context (tools and tests read it; engines never do). */
export function consensusStateOf(context: unknown): ConsensusState | undefined {
  return (context as { core?: ConsensusState } | undefined)?.core;
}

const advanced = (core: ConsensusState): Partial<ConsensusContext> => ({ core, deadlines: core.deadlines });

type Events = EngineEvent<typeof consensusInputs>;
type Emitted = EngineEffect<typeof consensusOutputs>;

export function createConsensusMachine(host: EngineHost) {
  if (host.storage === undefined) throw new Error('consensus needs storage (WAL and block store)');
  const staged = new StagedStorage(host.storage);
  const store = new ConsensusStore(staged);
  const verify = host.verify ?? ed25519Verify;
  /** The environment of one step, with nothing staged (a step that threw left its writes behind). */
  const env = (now: number): Env => {
    staged.discard();
    return { signer: host.signer, verify, store, now };
  };

  /** The step's writes first (the runtime lands them before any message leaves), then its messages. */
  const emitAll = (enqueue: { emit: (e: Emitted) => void }, fx: Effects, writes = staged.take()): void => {
    if (writes.length > 0) enqueue.emit({ type: 'persist', ops: writes });
    for (const m of fx.sends) enqueue.emit({ type: 'net', msg: m });
    for (const c of fx.committed) enqueue.emit({ type: 'committed', msg: c });
    for (const p of fx.penalties) enqueue.emit({ type: 'penalty', msg: { peer: p.peer, reason: p.reason } });
  };

  return setup({
    types: {} as {
      context: ConsensusContext;
      events: Events;
      emitted: Emitted;
      input: EngineInput<ConsensusConfig>;
    },
    guards: {
      'height entered': ({ context }) => context.core.round.round >= 0,
      'decided, its app root pending': ({ context }) => context.core.decided !== null,
      'next height entered': ({ context }) => context.core.decided === null,
    },
    actions: {
      emitStartup: enqueueActions(({ context, enqueue }) => {
        if (context.startup === null) return;
        emitAll(enqueue, context.startup.effects, [...context.startup.writes]);
        enqueue.assign({ startup: null });
      }),
      'receive message': enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'net') return;
        const fx = emptyEffects();
        const next = onNet(context.core, event.msg.peer, event.msg.bytes, env(event.now), fx);
        if (next !== context.core) enqueue.assign(advanced(next));
        emitAll(enqueue, fx);
      }),
      'take transactions': enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'txs') return;
        // reads nothing, writes nothing
        enqueue.assign(advanced(onTxs(context.core, event.msg)));
      }),
      'record app root': enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'appRoot') return;
        const fx = emptyEffects();
        const { height, root, validatorUpdates } = event.msg;
        const next = onAppRoot(context.core, height, root, validatorUpdates, env(event.now), fx);
        enqueue.assign(advanced(next));
        emitAll(enqueue, fx);
      }),
      'fire timer': enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'timeout') return;
        const fx = emptyEffects();
        const next = onTimeout(context.core, event.name, env(event.now), fx);
        enqueue.assign(advanced(next));
        emitAll(enqueue, fx);
      }),
    },
  }).createMachine({
    id: 'consensus',
    context: ({ input }) => {
      const { state, effects } = initialState(input.config, env(input.now));
      return { core: state, deadlines: state.deadlines, startup: { effects, writes: staged.take() } };
    },
    entry: 'emitStartup',
    initial: 'awaitingPreviousRoot',
    // in every phase: messages, transactions, app roots and timers go to the pure core
    on: {
      net: { actions: 'receive message' },
      txs: { actions: 'take transactions' },
      appRoot: { actions: 'record app root' },
      timeout: { actions: 'fire timer' },
    },
    states: {
      /** Round -1: the height starts once the app root of the height before is known. */
      awaitingPreviousRoot: {
        always: { guard: 'height entered', target: 'inHeight' },
      },
      /** Rounds of the round machine: propose, prevote, precommit, until a decision. */
      inHeight: {
        always: { guard: 'decided, its app root pending', target: 'awaitingAppRoot' },
      },
      /** The block is committed; the next height needs its app root (awaitAppRoot). */
      awaitingAppRoot: {
        always: { guard: 'next height entered', target: 'inHeight' },
      },
    },
  });
}
