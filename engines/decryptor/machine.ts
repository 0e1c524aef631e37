/**
 * The decryptor's XState machine. Its states are the life of a key epoch:
 *
 *   keying      the DKG's deal and complaint windows are open (no key yet)
 *   ready       the epoch key is known and no encrypted batch waits for shares
 *   decrypting  some committed encrypted batch waits for t validators' shares
 *   keyless     the DKG failed (too few qualified dealers): encrypted transactions are discarded
 *
 * They follow the pure state (pipeline.ts) through eventless transitions. Every committed block is
 * logged to storage before it is processed, so a restart replays to the same state.
 */
import { enqueueActions, setup } from 'xstate';
import type { EngineEmitted, EngineEvent, EngineHost, EngineInput } from '../../runtime/engine.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { verify as ed25519Verify } from '../../wire/sign.ts';
import {
  type DecryptorConfig,
  type DecryptorState,
  type Env,
  initialState,
  onCommitted,
} from './pipeline.ts';
import type { decryptorInputs, decryptorOutputs } from './ports.ts';
import { DecryptorStore } from './store.ts';

export interface DecryptorContext {
  readonly config: DecryptorConfig;
  readonly state: DecryptorState;
}

type Events = EngineEvent<typeof decryptorInputs>;
type Emitted = EngineEmitted<typeof decryptorOutputs>;
type Phase = 'keying' | 'ready' | 'decrypting' | 'keyless';

export function phaseOf(s: DecryptorState): Phase {
  if (s.keyFailure !== undefined) return 'keyless';
  if (s.key === undefined) return 'keying';
  return s.pending.length > 0 ? 'decrypting' : 'ready';
}

const PHASES: readonly Phase[] = ['keying', 'ready', 'decrypting', 'keyless'];

export function createDecryptorMachine(host: EngineHost) {
  if (host.storage === undefined) throw new Error('the decryptor needs storage (its block log)');
  const store = new DecryptorStore(host.storage);
  const env: Env = { signer: host.signer, verify: host.verify ?? ed25519Verify };

  /** The named guard that holds when the pure state is in `phase`. */
  const PHASE_GUARD = {
    keying: 'no key yet: deal and complaint windows open',
    ready: 'epoch key derived, no batch waiting',
    decrypting: 'a committed batch waits for t shares',
    keyless: 'the DKG failed: too few qualified dealers',
  } as const satisfies Record<Phase, string>;
  const inPhase =
    (phase: Phase) =>
    ({ context }: { context: DecryptorContext }) =>
      phaseOf(context.state) === phase;

  const follow = (phase: Phase) =>
    PHASES.filter((p) => p !== phase).map((p) => ({ guard: PHASE_GUARD[p], target: p }));

  return setup({
    types: {} as {
      context: DecryptorContext;
      events: Events;
      emitted: Emitted;
      input: EngineInput<DecryptorConfig>;
    },
    guards: {
      [PHASE_GUARD.keying]: inPhase('keying'),
      [PHASE_GUARD.ready]: inPhase('ready'),
      [PHASE_GUARD.decrypting]: inPhase('decrypting'),
      [PHASE_GUARD.keyless]: inPhase('keyless'),
    },
    actions: {
      handle: enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'committed') return;
        if (event.msg.block.header.height > context.state.height) store.saveBlock(event.msg);
        const { state, out } = onCommitted(context.config, context.state, event.msg, env);
        enqueue.assign({ state });
        if (out.epochKey !== undefined) enqueue.emit({ type: 'epochKey', msg: out.epochKey });
        for (const bytes of out.submit) {
          enqueue.emit({
            type: 'submit',
            msg: { id: `decryptor:${toHex(sha256(bytes)).slice(0, 16)}`, bytes },
          });
        }
        if (out.ordered !== undefined) enqueue.emit({ type: 'ordered', msg: out.ordered });
      }),
      announceKey: enqueueActions(({ context, enqueue }) => {
        const { key, epoch } = context.state;
        if (key === undefined) return;
        enqueue.emit({
          type: 'epochKey',
          msg: {
            epoch,
            publicKey: key.publicKey,
            threshold: key.threshold,
            verificationKeys: [...key.verificationKeys],
          },
        });
      }),
    },
  }).createMachine({
    id: 'decryptor',
    context: ({ input }) => {
      // rebuild from the block log; nothing is re-submitted during the replay
      let state = initialState(input.config);
      for (const cb of store.blocks()) {
        state = onCommitted(input.config, state, cb, env, { submit: false }).state;
      }
      // whatever this validator had sent may have been lost with the crash: send again when due
      state = {
        ...state,
        dealSentAt: undefined,
        pending: state.pending.map((b) => ({ ...b, sentAt: undefined })),
      };
      return { config: input.config, state };
    },
    entry: 'announceKey',
    initial: 'keying',
    on: { committed: { actions: 'handle' } },
    states: {
      keying: { always: follow('keying') },
      ready: { always: follow('ready') },
      decrypting: { always: follow('decrypting') },
      keyless: { always: follow('keyless') },
    },
  });
}
