/**
 * The relay engine's XState machine: its states and transitions are the protocol.
 *
 *   waiting    an end has not been observed yet: nothing can be proven to the other
 *   observed   an observation or a result came in: is a plan due?
 *   planning   the application's planner chose the work (one piece per free end)
 *   relaying   both ends known; work may be in flight, awaiting its result or its deadline
 *
 * Guards and actions are named and call the pure core (core.ts) or the application's planner; the
 * context is an immutable value.
 */
import { assign, enqueueActions, setup } from 'xstate';
import { clearDeadline, type Deadlines, setDeadline } from '../../runtime/deadlines.ts';
import type { EngineEmitted, EngineEvent, EngineInput } from '../../runtime/engine.ts';
import {
  bothObserved,
  expire,
  initialRelayState,
  nextDeadline,
  observe,
  plan,
  planDue,
  type RelayConfig,
  type RelayPlanner,
  type RelayState,
  settle,
} from './core.ts';
import type { RelayWork, relayInputs, relayOutputs } from './ports.ts';

export interface RelayContext extends RelayState {
  /** work planned in this step, until it is emitted */
  readonly out: readonly RelayWork[];
  readonly deadlines: Deadlines;
}

type Events = EngineEvent<typeof relayInputs>;
type Emitted = EngineEmitted<typeof relayOutputs>;

const WORK_DEADLINE = 'work';

export function createRelayMachine(planner: RelayPlanner) {
  return setup({
    types: {} as {
      context: RelayContext;
      events: Events;
      emitted: Emitted;
      input: EngineInput<Partial<RelayConfig>>;
    },
    guards: {
      'a plan is due': ({ context }) => planDue(context),
      'both ends are observed': ({ context }) => bothObserved(context),
      'the work deadline passed': ({ event }) => event.type === 'timeout' && event.name === WORK_DEADLINE,
    },
    actions: {
      'keep the newer observation': assign(({ context, event }) =>
        event.type === 'end' ? observe(context, event.msg) : {},
      ),
      'settle the work': assign(({ context, event }) =>
        event.type === 'result' ? settle(context, event.msg) : {},
      ),
      'give up late work': assign(({ context, event }) =>
        event.type === 'timeout' ? expire(context, event.now) : {},
      ),
      "ask the application's planner": assign(({ context, event }) => {
        const planned = plan(context, planner, event.now);
        return { ...planned.state, out: planned.work };
      }),
      'arm the work deadline': assign(({ context }) => {
        const at = nextDeadline(context);
        return {
          deadlines:
            at === undefined
              ? clearDeadline(context.deadlines, WORK_DEADLINE)
              : setDeadline(context.deadlines, WORK_DEADLINE, at),
        };
      }),
      'emit the work': enqueueActions(({ context, enqueue }) => {
        if (context.out.length === 0) return;
        for (const w of context.out) enqueue.emit({ type: 'work', msg: w });
        enqueue.assign({ out: [] });
      }),
    },
  }).createMachine({
    id: 'relay',
    context: ({ input }) => ({ ...initialRelayState(input.config), out: [], deadlines: {} }),
    initial: 'waiting',
    states: {
      /** An end has not been observed yet. */
      waiting: {
        on: { end: { target: 'observed', actions: 'keep the newer observation' } },
      },
      /** Something came in: plan, keep relaying, or keep waiting. */
      observed: {
        always: [
          { guard: 'a plan is due', target: 'planning' },
          { guard: 'both ends are observed', target: 'relaying' },
          { target: 'waiting' },
        ],
      },
      /** The planner chose the work for the free ends. */
      planning: {
        entry: "ask the application's planner",
        always: { target: 'relaying' },
      },
      /** Work may be in flight: its result, a new observation, or its deadline moves on. */
      relaying: {
        entry: ['emit the work', 'arm the work deadline'],
        on: {
          end: { target: 'observed', actions: 'keep the newer observation' },
          result: { target: 'observed', actions: 'settle the work' },
          timeout: { guard: 'the work deadline passed', target: 'observed', actions: 'give up late work' },
        },
      },
    },
  });
}
