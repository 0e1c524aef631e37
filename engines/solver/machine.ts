/**
 * The solver engine's XState machine: its states and transitions are the protocol.
 *
 *   collecting  between inputs; its entry emits the step's solution, if any
 *   pooling     an intent was held or the chain moved (expired and spent intents left, held-back
 *               ones came back): is a batch due?
 *   solving     the batch went to the application's solver: a solution, or none
 *
 * Guards and actions are named and call the pure core (pool.ts) or the application's solver; the
 * context is an immutable value.
 */
import { assign, enqueueActions, setup } from 'xstate';
import type { EngineEmitted, EngineEvent, EngineInput } from '../../runtime/engine.ts';
import {
  advance,
  afterBatch,
  batchDue,
  candidates,
  forget,
  holdIntent,
  initialSolverState,
  type SolveBatch,
  type SolverConfig,
  type SolverState,
} from './pool.ts';
import type { Solution, solverInputs, solverOutputs } from './ports.ts';

export interface SolverContext extends SolverState {
  /** the solution of the batch just offered, until it is emitted */
  readonly solution: Solution | null;
}

type Events = EngineEvent<typeof solverInputs>;
type Emitted = EngineEmitted<typeof solverOutputs>;

export function createSolverMachine(solve: SolveBatch) {
  return setup({
    types: {} as {
      context: SolverContext;
      events: Events;
      emitted: Emitted;
      input: EngineInput<Partial<SolverConfig>>;
    },
    guards: {
      'a batch is due': ({ context }) => batchDue(context),
      'a solution was found': ({ context }) => context.solution !== null,
    },
    actions: {
      'hold the intent': assign(({ context, event }) =>
        event.type === 'intents' ? holdIntent(context, event.msg) : {},
      ),
      'forget the gone intents': assign(({ context, event }) =>
        event.type === 'gone' ? forget(context, event.msg.ids) : {},
      ),
      'advance to the chain height': assign(({ context, event }) =>
        event.type === 'chain' ? advance(context, event.msg.height, event.msg.spent) : {},
      ),
      "offer the batch to the application's solver": assign(({ context }) => {
        const found = solve(candidates(context), context.height);
        if (found === undefined || found.used.length === 0) return { solution: null };
        return {
          solution: {
            batch: BigInt(context.batches),
            height: context.height,
            tx: found.tx,
            intents: [...found.used],
          },
        };
      }),
      'hold back its intents': assign(({ context }) => afterBatch(context, context.solution?.intents ?? [])),
      'count the empty batch': assign(({ context }) => afterBatch(context, [])),
      'emit the solution': enqueueActions(({ context, enqueue }) => {
        if (context.solution === null) return;
        enqueue.emit({ type: 'solution', msg: context.solution });
        enqueue.assign({ solution: null });
      }),
    },
  }).createMachine({
    id: 'solver',
    context: ({ input }) => ({ ...initialSolverState(input.config), solution: null }),
    initial: 'collecting',
    states: {
      /** Between inputs: every input starts here. */
      collecting: {
        entry: 'emit the solution',
        on: {
          intents: { target: 'pooling', actions: 'hold the intent' },
          chain: { target: 'pooling', actions: 'advance to the chain height' },
          gone: { target: 'collecting', reenter: true, actions: 'forget the gone intents' },
        },
      },
      /** An intent was held or the chain moved. */
      pooling: {
        always: [
          {
            guard: 'a batch is due',
            target: 'solving',
            actions: "offer the batch to the application's solver",
          },
          { target: 'collecting' },
        ],
      },
      /** The batch went to the application's solver. */
      solving: {
        always: [
          { guard: 'a solution was found', target: 'collecting', actions: 'hold back its intents' },
          { target: 'collecting', actions: 'count the empty batch' },
        ],
      },
    },
  });
}
