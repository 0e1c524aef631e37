/**
 * The decryptor's XState machine: its states are the protocol's phases, its transitions the steps
 * of pipeline.ts in the order each phase takes them.
 *
 *   restoring          after a (re)start: the block log was replayed; resume in the phase it reached
 *   keying.dealing     until the deal window closes: deal (again when overdue), complain about a
 *                      dealer whose share to this validator is bad
 *   keying.complaining the complaint window: others' complaints disqualify dealers
 *   keying.deriving    the complaint window's last block: t qualified dealers give the epoch key,
 *                      fewer end the epoch keyless
 *   keyed.ready        the epoch key is known and no encrypted batch waits for shares
 *   keyed.awaitingShares  some committed batch waits for t validators' verified shares
 *   keyless            the DKG failed: encrypted transactions are discarded with a receipt
 *   keying.checked, keyed.checked  (transient) the block's envelopes are checked: where it leads
 *
 * Every committed block of a new height is logged (a write effect, durable before anything the
 * block produces leaves), its envelopes checked, then the phase's steps run; `order the block`
 * ends it in every phase. A height already processed re-sends its ordered block (an app replay).
 * Guards and actions call the pure core; the machine holds no decision of its own. The context is
 * an immutable value, so a step that throws restarts from exactly the context before it.
 */
import { assign, enqueueActions, setup } from 'xstate';
import { present } from '../../runtime/assert.ts';
import type { EngineEffect, EngineEvent, EngineHost, EngineInput } from '../../runtime/engine.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { verify as ed25519Verify } from '../../wire/sign.ts';
import {
  alreadyProcessed,
  type BlockWork,
  checkEnvelopes,
  countSharesAndDecrypt,
  type DecryptorConfig,
  type DecryptorState,
  dealAndComplain,
  dkgEndsWith,
  dkgWindows,
  type Env,
  finalizeDkg,
  finishBlock,
  initialState,
  onCommitted,
  queueBatch,
  replayed,
  submitShares,
} from './pipeline.ts';
import type { decryptorInputs, decryptorOutputs } from './ports.ts';
import { blockLogWrite, DecryptorStore } from './store.ts';

export interface DecryptorContext {
  readonly config: DecryptorConfig;
  readonly state: DecryptorState;
  /** the block in progress (null between blocks) */
  readonly work: BlockWork | null;
}

type Events = EngineEvent<typeof decryptorInputs>;
type Emitted = EngineEffect<typeof decryptorOutputs>;
type Arg = { context: DecryptorContext; event: Events };

/** The phase the pure state is in (what `restoring` resumes to, and what tests compare with). */
export type Phase = 'dealing' | 'complaining' | 'ready' | 'awaitingShares' | 'keyless';

export function phaseOf(cfg: DecryptorConfig, s: DecryptorState): Phase {
  if (s.keyFailure !== undefined) return 'keyless';
  if (s.key === undefined) return s.height + 1n < dkgWindows(cfg).dealEnd ? 'dealing' : 'complaining';
  return s.pending.length > 0 ? 'awaitingShares' : 'ready';
}

const work = (context: DecryptorContext): BlockWork => present(context.work, 'the block in progress');

const committedBlock = (event: Events) => {
  if (event.type !== 'committed') throw new Error(`decryptor: ${event.type} is not a committed block`);
  return event.msg;
};

export function createDecryptorMachine(host: EngineHost) {
  if (host.storage === undefined) throw new Error('the decryptor needs storage (its block log)');
  const store = new DecryptorStore(host.storage);
  const env: Env = { signer: host.signer, verify: host.verify ?? ed25519Verify };
  const resumesIn =
    (phase: Phase) =>
    ({ context }: Arg) =>
      phaseOf(context.config, context.state) === phase;
  const KEYED_STEPS = [
    'queue its encrypted batch',
    'count shares, decrypt in committed order',
    'submit my shares',
  ] as const;
  // ready and awaitingShares take a new block the same way; only where it leads differs
  const ON_KEYED_BLOCK = {
    committed: {
      guard: 'a new height',
      target: 'checked',
      actions: ['log the block', 'check its envelopes', ...KEYED_STEPS],
    },
  } as const;

  return setup({
    types: {} as {
      context: DecryptorContext;
      events: Events;
      emitted: Emitted;
      input: EngineInput<DecryptorConfig>;
    },
    guards: {
      'a height already processed': ({ context, event }) =>
        alreadyProcessed(context.state, committedBlock(event).block.header.height),
      'a new height': ({ context, event }) =>
        !alreadyProcessed(context.state, committedBlock(event).block.header.height),
      'the complaint window ends with this block': ({ context }) =>
        dkgEndsWith(context.config, work(context)),
      'the deal window is still open': ({ context }) =>
        work(context).height + 1n < dkgWindows(context.config).dealEnd,
      't dealers qualified: the epoch key': ({ context }) => work(context).key !== undefined,
      'a batch waits for t shares': ({ context }) => work(context).pending.length > 0,
      'the log ends inside the deal window': resumesIn('dealing'),
      'the log ends inside the complaint window': resumesIn('complaining'),
      'the log derived the key, no batch waits': resumesIn('ready'),
      'the log derived the key, a batch waits': resumesIn('awaitingShares'),
      'the log ended the DKG keyless': resumesIn('keyless'),
    },
    actions: {
      're-send the last ordered block': enqueueActions(({ context, event, enqueue }) => {
        const out = replayed(context.state, committedBlock(event).block.header.height);
        if (out.ordered !== undefined) enqueue.emit({ type: 'ordered', msg: out.ordered });
      }),
      'log the block': enqueueActions(({ event, enqueue }) => {
        enqueue.emit({ type: 'persist', ops: [blockLogWrite(committedBlock(event))] });
      }),
      'check its envelopes': assign(({ context, event }) => ({
        work: checkEnvelopes(context.config, context.state, committedBlock(event), env),
      })),
      'deal, complain about bad shares': assign(({ context }) => ({
        work: dealAndComplain(context.config, work(context)),
      })),
      'finalize the DKG': assign(({ context }) => ({
        work: finalizeDkg(context.config, context.state, work(context)),
      })),
      'queue its encrypted batch': assign(({ context }) => ({ work: queueBatch(work(context)) })),
      'count shares, decrypt in committed order': assign(({ context }) => ({
        work: countSharesAndDecrypt(work(context)),
      })),
      // without a key no ciphertext is valid: the block's batch is decrypted at once, as discards
      'discard its encrypted transactions: no key': assign(({ context }) => ({
        work: countSharesAndDecrypt(queueBatch(work(context))),
      })),
      'submit my shares': assign(({ context }) => ({
        work: submitShares(context.config, context.state, work(context)),
      })),
      'order the block': enqueueActions(({ context, enqueue }) => {
        const { state, out } = finishBlock(context.config, context.state, work(context), env);
        enqueue.assign({ state, work: null });
        if (out.epochKey !== undefined) enqueue.emit({ type: 'epochKey', msg: out.epochKey });
        for (const bytes of out.submit) {
          enqueue.emit({
            type: 'submit',
            msg: { id: `decryptor:${toHex(sha256(bytes)).slice(0, 16)}`, bytes },
          });
        }
        if (out.ordered !== undefined) enqueue.emit({ type: 'ordered', msg: out.ordered });
      }),
      'announce the key': enqueueActions(({ context, enqueue }) => {
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
      return { config: input.config, state, work: null };
    },
    initial: 'restoring',
    // a child's transition for a new height comes first; what is left is a replay request
    on: { committed: { guard: 'a height already processed', actions: 're-send the last ordered block' } },
    states: {
      restoring: {
        always: [
          { guard: 'the log ends inside the deal window', target: 'keying.dealing' },
          { guard: 'the log ends inside the complaint window', target: 'keying.complaining' },
          {
            guard: 'the log derived the key, no batch waits',
            target: 'keyed.ready',
            actions: 'announce the key',
          },
          {
            guard: 'the log derived the key, a batch waits',
            target: 'keyed.awaitingShares',
            actions: 'announce the key',
          },
          { guard: 'the log ended the DKG keyless', target: 'keyless' },
        ],
      },
      keying: {
        initial: 'dealing',
        states: {
          dealing: {
            on: {
              committed: {
                guard: 'a new height',
                target: 'checked',
                actions: ['log the block', 'check its envelopes', 'deal, complain about bad shares'],
              },
            },
          },
          complaining: {
            on: {
              committed: {
                guard: 'a new height',
                target: 'checked',
                actions: ['log the block', 'check its envelopes'],
              },
            },
          },
          checked: {
            always: [
              {
                guard: 'the complaint window ends with this block',
                target: 'deriving',
                actions: 'finalize the DKG',
              },
              {
                guard: 'the deal window is still open',
                target: 'dealing',
                actions: ['discard its encrypted transactions: no key', 'order the block'],
              },
              {
                target: 'complaining',
                actions: ['discard its encrypted transactions: no key', 'order the block'],
              },
            ],
          },
          deriving: {
            always: [
              {
                guard: 't dealers qualified: the epoch key',
                target: '#decryptor.keyed.checked',
                actions: KEYED_STEPS,
              },
              {
                target: '#decryptor.keyless',
                actions: ['discard its encrypted transactions: no key', 'order the block'],
              },
            ],
          },
        },
      },
      keyed: {
        initial: 'ready',
        states: {
          ready: {
            on: ON_KEYED_BLOCK,
          },
          awaitingShares: {
            on: ON_KEYED_BLOCK,
          },
          checked: {
            always: [
              { guard: 'a batch waits for t shares', target: 'awaitingShares', actions: 'order the block' },
              { target: 'ready', actions: 'order the block' },
            ],
          },
        },
      },
      keyless: {
        on: {
          committed: {
            guard: 'a new height',
            actions: [
              'log the block',
              'check its envelopes',
              'discard its encrypted transactions: no key',
              'order the block',
            ],
          },
        },
      },
    },
  });
}
