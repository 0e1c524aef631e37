/**
 * The serial executor's XState machine. An ordered block is executed transaction by transaction,
 * in block order, each through the four phases of seed 002, which are the machine's states:
 *
 *   idle -> executing.decode -> lookup -> calculation -> validity -> commit -> next -> ... -> sealing -> idle
 *
 * Starting a block charges its envelopes' fees (fees.ts). `decode` takes the next entry: a
 * discarded one (its ciphertext did not decrypt) gets a receipt in phase 'decrypt', one whose fee
 * was not paid one in phase 'fee', bytes that are not a transaction one in phase 'decode'; none
 * of them runs.
 * The steps are eventless transitions, so a whole block runs while one `ordered` message is
 * processed, and the statechart shows the phases a transaction went through. A phase that rejects
 * records the receipt and jumps to `next`; a failed transaction never stops the block. Context is
 * plain data (receipts and write sets so far), so a restart from a snapshot resumes exactly.
 *
 * `seal` asks for the block's batch as a write effect (ledger.ts `prepareSeal`), then emits the
 * receipts and the root: the runtime writes the batch before they leave, and if it fails the step
 * fails as a whole. One block is sealed per step: the next one reads the state the seal wrote, so
 * it begins only once storage shows it (`sealWritten`), in a later step; a deadline at once
 * (`resumeAfter`) makes that step happen when blocks wait.
 */
import { and, assign, enqueueActions, setup } from 'xstate';
import { clearDeadline, type Deadlines, setDeadline } from '../../runtime/deadlines.ts';
import {
  type EngineEffect,
  type EngineEvent,
  type EngineHost,
  type EngineInput,
  PERSIST,
} from '../../runtime/engine.ts';
import type { OrderedBlock } from '../../wire/ledger.ts';
import { prepareOrdered } from './block.ts';
import { type BlockFees, chargeBlock, NO_FEES } from './fees.ts';
import { Ledger, resumeAfter } from './ledger.ts';
import type { Note, Transaction } from './notes.ts';
import {
  acceptedReceipt,
  calculationPhase,
  commitPhase,
  lookupPhase,
  type Multievaluate,
  type PhaseResult,
  type Receipt,
  validityPhase,
  type WriteSet,
} from './phases.ts';
import type { executorInputs, executorOutputs } from './ports.ts';
import { Overlay } from './state.ts';

export interface ExecutorConfig {
  /** Gas each transaction may use across its phases. */
  gasLimit: number;
}

interface Current {
  tx: Transaction | null;
  inputs: Note[];
  outputs: Note[];
  gas: number;
  /** Set when a phase rejected: the transaction is finished. */
  receipt: Receipt | null;
  writes: WriteSet | null;
}

export interface ExecutorContext {
  readonly gasLimit: number;
  readonly queue: readonly OrderedBlock[];
  readonly cursor: number;
  readonly current: Current;
  readonly receipts: readonly Receipt[];
  readonly writes: readonly WriteSet[];
  /** the fees of the block being executed, charged when it starts */
  readonly fees: BlockFees;
  /** the last height this engine sealed (in this step, or written by an earlier one) */
  readonly sealed: bigint;
  readonly deadlines: Deadlines;
}

const FRESH: Current = { tx: null, inputs: [], outputs: [], gas: 0, receipt: null, writes: null };

type Events = EngineEvent<typeof executorInputs>;
type Emitted = EngineEffect<typeof executorOutputs>;

/** Whether `a` is a prefix of `b`, element by element (identity). */
function isPrefix<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length > b.length) return false;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}

export function createExecutorMachine(mev: Multievaluate) {
  return (host: EngineHost) => {
    if (host.storage === undefined) throw new Error('the executor needs storage');
    const ledger = new Ledger(host.storage);
    // The overlay is derived from context (writes so far), cached by identity. Within a block
    // `next` only appends to `writes`, so when the cached array is a prefix of the new one (same
    // elements, by identity) only the new write sets are applied: a block costs O(n), not O(n²).
    let cache: { writes: readonly WriteSet[]; overlay: Overlay } | undefined;
    const overlayOf = (ctx: ExecutorContext): Overlay => {
      if (cache?.writes === ctx.writes) return cache.overlay;
      let overlay: Overlay;
      let from = 0;
      if (cache !== undefined && isPrefix(cache.writes, ctx.writes)) {
        overlay = cache.overlay;
        from = cache.writes.length;
      } else overlay = new Overlay(ledger.notes);
      for (let i = from; i < ctx.writes.length; i++) overlay.apply(ctx.writes[i]!);
      cache = { writes: ctx.writes, overlay };
      return overlay;
    };
    const block = (ctx: ExecutorContext) => ctx.queue[0]!;
    const entry = (ctx: ExecutorContext) => block(ctx).txs[ctx.cursor]!;
    const afterPhase = <T>(
      ctx: ExecutorContext,
      r: PhaseResult<T>,
      put: (v: T) => Partial<Current>,
    ): Current =>
      r.ok ? { ...ctx.current, ...put(r.value), gas: r.gasUsed } : { ...ctx.current, receipt: r.receipt };

    return setup({
      types: {} as {
        context: ExecutorContext;
        events: Events;
        emitted: Emitted;
        input: EngineInput<ExecutorConfig>;
      },
      guards: {
        // a seal is written after its step: until storage shows it, what it wrote is not there to read
        sealWritten: ({ context }) => ledger.executedHeight() >= context.sealed,
        // only the next height runs: a block past it (one before it was lost with a crashed step)
        // waits in the queue until the missing one is sent again, never runs on the wrong state
        hasBlock: ({ context }) =>
          context.queue.length > 0 && block(context).height === ledger.executedHeight() + 1n,
        alreadyExecuted: ({ context }) =>
          context.queue.length > 0 && block(context).height <= ledger.executedHeight(),
        blockDone: ({ context }) => context.cursor >= block(context).txs.length,
        finished: ({ context }) => context.current.receipt !== null,
      },
      actions: {
        // waiting blocks are kept in height order, so a re-sent missing block goes before what
        // waits on it; the head stays put when it may be the block in execution (the next height)
        enqueue: assign(({ context, event }) => {
          if (event.type !== 'ordered') return {};
          const head = context.queue[0];
          const inPlace = head !== undefined && head.height <= ledger.executedHeight() + 1n ? [head] : [];
          const waiting = [...context.queue.slice(inPlace.length), event.msg].sort((a, b) =>
            a.height < b.height ? -1 : a.height > b.height ? 1 : 0,
          );
          return { queue: [...inPlace, ...waiting] };
        }),
        replayRoot: enqueueActions(({ context, enqueue }) => {
          // a height is re-announced after a restart: answer with the root we stored
          const height = block(context).height;
          const stored = ledger.receipts(height);
          if (stored !== undefined) {
            enqueue.emit({ type: 'appRoot', msg: { height, root: stored.root, validatorUpdates: [] } });
          }
          enqueue.assign({ queue: context.queue.slice(1) });
        }),
        charge: assign(({ context }) => ({
          fees: chargeBlock(host.storage!, block(context)),
          deadlines: clearDeadline(context.deadlines, resumeAfter(context.sealed)),
        })),
        resume: assign(({ context, event }) =>
          event.type === 'timeout' ? { deadlines: clearDeadline(context.deadlines, event.name) } : {},
        ),
        decode: assign(({ context }) => {
          const [prepared] = prepareOrdered({ ...block(context), txs: [entry(context)] }, context.fees);
          return { current: { ...FRESH, tx: prepared!.tx, receipt: prepared!.receipt } };
        }),
        lookup: assign(({ context }) => ({
          current: afterPhase(
            context,
            lookupPhase(context.current.tx!, overlayOf(context), mev, context.gasLimit),
            (inputs) => ({ inputs }),
          ),
        })),
        calculation: assign(({ context }) => ({
          current: afterPhase(
            context,
            calculationPhase(
              context.current.tx!,
              context.current.inputs,
              mev,
              context.gasLimit,
              context.current.gas,
            ),
            (outputs) => ({ outputs }),
          ),
        })),
        validity: assign(({ context }) => {
          const c = context.current;
          return {
            current: afterPhase(
              context,
              validityPhase(
                c.tx!,
                c.inputs,
                c.outputs,
                overlayOf(context),
                mev,
                context.gasLimit,
                c.gas,
                block(context).height,
              ),
              () => ({}),
            ),
          };
        }),
        commit: assign(({ context }) => {
          const c = context.current;
          const r = commitPhase(c.tx!, c.inputs, c.outputs, overlayOf(context), c.gas);
          return {
            current: r.ok
              ? { ...c, writes: r.value, receipt: acceptedReceipt(r.gasUsed) }
              : { ...c, receipt: r.receipt },
          };
        }),
        next: assign(({ context }) => ({
          receipts: [...context.receipts, context.current.receipt!],
          writes:
            context.current.writes === null ? context.writes : [...context.writes, context.current.writes],
          cursor: context.cursor + 1,
          current: FRESH,
        })),
        seal: enqueueActions(({ context, event, enqueue }) => {
          const height = block(context).height;
          const sealed = ledger.prepareSeal(height, context.receipts, context.writes, context.fees);
          enqueue.emit({ type: PERSIST, ops: sealed.ops });
          enqueue.emit({ type: 'receipts', msg: sealed.record });
          enqueue.emit({ type: 'appRoot', msg: { height, root: sealed.record.root, validatorUpdates: [] } });
          const queue = context.queue.slice(1);
          enqueue.assign({
            queue,
            cursor: 0,
            receipts: [],
            writes: [],
            current: FRESH,
            fees: NO_FEES,
            sealed: height,
            deadlines:
              queue.length === 0
                ? context.deadlines
                : setDeadline(context.deadlines, resumeAfter(height), event.now),
          });
        }),
      },
    }).createMachine({
      id: 'executor',
      context: ({ input }) => ({
        gasLimit: input.config.gasLimit,
        queue: [],
        cursor: 0,
        current: FRESH,
        receipts: [],
        writes: [],
        fees: NO_FEES,
        sealed: 0n,
        deadlines: {},
      }),
      on: { ordered: { actions: 'enqueue' }, timeout: { actions: 'resume' } },
      initial: 'idle',
      states: {
        idle: {
          always: [
            {
              guard: and(['sealWritten', 'alreadyExecuted']),
              actions: 'replayRoot',
              target: 'idle',
              reenter: true,
            },
            { guard: and(['sealWritten', 'hasBlock']), actions: 'charge', target: 'executing' },
          ],
        },
        executing: {
          initial: 'decode',
          states: {
            decode: {
              always: [
                { guard: 'blockDone', target: '#executor.sealing' },
                { actions: 'decode', target: 'lookup' },
              ],
            },
            lookup: {
              always: [
                { guard: 'finished', target: 'next' },
                { actions: 'lookup', target: 'calculation' },
              ],
            },
            calculation: {
              always: [
                { guard: 'finished', target: 'next' },
                { actions: 'calculation', target: 'validity' },
              ],
            },
            validity: {
              always: [
                { guard: 'finished', target: 'next' },
                { actions: 'validity', target: 'commit' },
              ],
            },
            commit: {
              always: [
                { guard: 'finished', target: 'next' },
                { actions: 'commit', target: 'next' },
              ],
            },
            next: { always: { actions: 'next', target: 'decode' } },
          },
        },
        sealing: { always: { actions: 'seal', target: 'idle' } },
      },
    });
  };
}
