import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AnyActorLogic,
  assign,
  createActor,
  type EventObject,
  emit,
  enqueueActions,
  setup,
} from 'xstate';
import { propParams } from '../props/config.ts';
import { compiledLogic, compiledMachine } from './compiled-machine.ts';
import { inertScope } from './pure-machine.ts';
import { idOfTaken } from './transition-id.ts';

interface Ctx {
  readonly n: number;
  readonly log: readonly string[];
}
type Ev =
  | { type: 'inc' }
  | { type: 'dec' }
  | { type: 'reset' }
  | { type: 'noise' }
  | { type: 'jump'; to: number };

const add = (context: Ctx, label: string, d: number): Ctx => ({
  n: context.n + d,
  log: [...context.log, label],
});

/**
 * Every feature the compiled runner covers: root handlers that a state's own handlers shadow, guarded
 * candidates falling through to the root, eventless chains (targeted, targetless, re-entering,
 * on the root too), events nothing handles, several assigns in one transition.
 */
const toy = setup({
  types: {} as { context: Ctx; events: Ev; emitted: { type: 'reported' | 'announced'; n: number } },
  guards: {
    'over three': ({ context }) => context.n > 3,
    'under zero': ({ context }) => context.n < 0,
    even: ({ context }) => context.n % 2 === 0,
    'jump is odd': ({ event }) => event.type === 'jump' && event.to % 2 === 1,
    'log is long': ({ context }) => context.log.length > 6,
  },
  actions: {
    'count up': assign(({ context }) => add(context, 'up', 1)),
    'count down': assign(({ context }) => add(context, 'down', -1)),
    'count up twice': assign(({ context }) => add(context, 'up2', 2)),
    'set from jump': assign(({ context, event }) => ({
      n: event.type === 'jump' ? event.to : context.n,
      log: [...context.log, 'jump'],
    })),
    'trim log': assign(({ context }) => ({ log: context.log.slice(-2) })),
    'report and reset': enqueueActions(({ context, enqueue }) => {
      enqueue.emit({ type: 'reported', n: context.n });
      if (context.n > 5) enqueue.assign({ n: 0 });
      enqueue.assign(({ context: c }) => ({ log: [...c.log, 'reported'] }));
    }),
    announce: emit(({ context }) => ({ type: 'announced', n: context.n })),
    halve: assign(({ context }) => ({ n: Math.trunc(context.n / 2), log: [...context.log, 'half'] })),
  },
}).createMachine({
  id: 'toy',
  context: { n: 0, log: [] },
  entry: 'announce',
  initial: 'low',
  on: {
    inc: { actions: 'count up' },
    reset: { target: '.low', actions: assign(() => ({ n: 0 })) },
    jump: [{ guard: 'jump is odd', target: '.high', actions: 'set from jump' }, { actions: 'set from jump' }],
  },
  always: { guard: 'log is long', actions: 'trim log' },
  states: {
    low: {
      on: { dec: { actions: 'count down' }, inc: { guard: 'even', actions: ['count up', 'count up twice'] } },
      always: [
        { guard: 'over three', target: 'high' },
        { guard: 'under zero', target: 'low', reenter: true, actions: 'count up' },
      ],
    },
    high: {
      on: { dec: { target: 'low', actions: 'halve' }, noise: { actions: ['report and reset', 'announce'] } },
      always: { guard: 'under zero', target: 'low' },
    },
  },
});

/** XState's own answer: value, context and the ids of the transitions each microstep took. */
function byXState(value: string, context: Ctx, event: Ev) {
  const steps: { value: unknown; taken: string[] }[] = [];
  const scope = inertScope(toy, (v, ts) => steps.push({ value: v, taken: ts.map(idOfTaken) }));
  const next = toy.transition(toy.resolveState({ value, context }), event, scope as never);
  return { value: next.value, context: next.context, steps };
}

/** What an actor of `logic` shows for `events`: snapshots, emitted events, microsteps taken, its stop. */
function observeActor(logic: AnyActorLogic, events: readonly EventObject[]): unknown[] {
  const seen: unknown[] = [];
  const actor = createActor(logic, {
    inspect: (e) => {
      if (e.type === '@xstate.microstep')
        seen.push([
          'micro',
          (e as unknown as { _transitions: { source: never }[] })._transitions.map(idOfTaken),
        ]);
    },
  });
  actor.on('*', (e) => seen.push(['emit', e]));
  actor.start();
  const snap = () => {
    const x = actor.getSnapshot() as { value: unknown; context: unknown; status: string };
    return [x.status, x.value, x.context];
  };
  seen.push(snap());
  for (const e of events) {
    actor.send(e);
    seen.push(snap());
  }
  actor.stop();
  seen.push((actor.getSnapshot() as { status: string }).status);
  return seen;
}

describe('compiled machine runner', () => {
  const compiled = compiledMachine(toy);

  it('covers a machine of flat states with assign, emit and enqueueActions', () => {
    expect(compiled).toBeDefined();
  });

  it('takes the transitions XState takes, microstep by microstep, from any state and context', () => {
    const event: fc.Arbitrary<Ev> = fc.oneof(
      fc.constantFrom<Ev>({ type: 'inc' }, { type: 'dec' }, { type: 'reset' }, { type: 'noise' }),
      fc.integer({ min: -3, max: 9 }).map((to): Ev => ({ type: 'jump', to })),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), (events) => {
        let value = 'low';
        let context: Ctx = { n: 0, log: [] };
        for (const e of events) {
          const want = byXState(value, context, e);
          const steps: { value: unknown; taken: string[] }[] = [];
          // XState's pure transition drops what the machine emits (the actor test compares those)
          const got = compiled!.step(
            value,
            context,
            e,
            (v, ts) => steps.push({ value: v, taken: ts.map(idOfTaken) }),
            () => {},
          );
          expect(got.value).toBe(want.value);
          expect(got.context).toEqual(want.context);
          expect(steps).toEqual(want.steps);
          value = got.value as string;
          context = got.context as Ctx;
        }
      }),
      propParams('runtime.compiled-machine', 200),
    );
  });

  it('as actor logic, gives an actor the snapshots, emitted events and microsteps of the machine', () => {
    const event: fc.Arbitrary<Ev> = fc.oneof(
      fc.constantFrom<Ev>({ type: 'inc' }, { type: 'dec' }, { type: 'reset' }, { type: 'noise' }),
      fc.integer({ min: -3, max: 9 }).map((to): Ev => ({ type: 'jump', to })),
    );
    const logic = compiledLogic(toy);
    expect(logic).toBeDefined();
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), (events) => {
        const want = observeActor(toy, events);
        const got = observeActor(logic!, events);
        expect(got, JSON.stringify({ got, want })).toEqual(want);
      }),
      propParams('runtime.compiled-logic', 100),
    );
  });

  it('wraps a failing guard of an event as XState does', () => {
    const m = setup({
      types: {} as { context: { x: number }; events: { type: 'go' } },
      guards: {
        broken: () => {
          throw new Error('no');
        },
      },
    }).createMachine({
      id: 'm',
      context: { x: 0 },
      initial: 'a',
      states: { a: { on: { go: { guard: 'broken' } } } },
    });
    const xstate = () =>
      m.transition(
        m.resolveState({ value: 'a', context: { x: 0 } }),
        { type: 'go' },
        inertScope(m, () => {}) as never,
      );
    const flatGo = () => compiledMachine(m)!.step('a', { x: 0 }, { type: 'go' });
    expect(flatGo).toThrow(
      /^Unable to evaluate guard 'broken' in transition for event 'go' in state node 'm.a':\nno$/,
    );
    expect(xstate).toThrow(
      /^Unable to evaluate guard 'broken' in transition for event 'go' in state node 'm.a':\nno$/,
    );
  });

  it('leaves to XState what it does not cover', () => {
    const base = setup({ types: {} as { context: { x: number }; events: { type: 'go' } } });
    const delayed = base.createMachine({
      context: { x: 0 },
      initial: 'a',
      states: { a: { after: { 10: 'b' } }, b: {} },
    });
    const history = base.createMachine({
      context: { x: 0 },
      initial: 'a',
      states: { a: { initial: 'b', states: { b: {}, h: { type: 'history' } } } },
    });
    const final = base.createMachine({
      context: { x: 0 },
      initial: 'a',
      states: { a: { initial: 'b', states: { b: { type: 'final' } } } },
    });
    const parallel = base.createMachine({ context: { x: 0 }, type: 'parallel', states: { a: {}, b: {} } });
    const enqueue = base.createMachine({
      context: { x: 0 },
      initial: 'a',
      states: { a: { on: { go: { actions: enqueueActions(({ enqueue }) => enqueue.assign({ x: 2 })) } } } },
    });
    const raise = base.createMachine({
      context: { x: 0 },
      initial: 'a',
      states: {
        a: { on: { go: { actions: enqueueActions(({ enqueue }) => enqueue.raise({ type: 'go' })) } } },
      },
    });
    for (const m of [delayed, history, final, parallel]) expect(compiledMachine(m)).toBeUndefined();
    // what an enqueueActions enqueues is known only when it runs: the compiled runner refuses it then
    expect(() => compiledMachine(raise)!.step('a', { x: 0 }, { type: 'go' })).toThrow(/only assign and emit/);
    expect(compiledMachine(enqueue)!.step('a', { x: 0 }, { type: 'go' }).context).toEqual({ x: 2 });
  });

  it('takes the transitions XState takes in nested states: domains, exits, entries, defaults', () => {
    const logic = compiledLogic(nestedToy);
    expect(logic).toBeDefined();
    fc.assert(
      fc.property(fc.array(fc.constantFrom<NestedEv>(...NESTED_EVENTS), { maxLength: 30 }), (events) => {
        const want = observeActor(nestedToy, events);
        const got = observeActor(logic!, events);
        expect(got, JSON.stringify({ got, want })).toEqual(want);
      }),
      propParams('runtime.compiled-logic-nested', 200),
    );
  });
});

type NestedEv = { type: 'in' | 'out' | 'deep' | 'again' | 'self' | 'tick' | 'up' | 'sib' };
const NESTED_EVENTS: NestedEv[] = ['in', 'out', 'deep', 'again', 'self', 'tick', 'up', 'sib'].map(
  (type) => ({ type }) as NestedEv,
);
const mark = (label: string) =>
  assign<Ctx, NestedEv, undefined, NestedEv, never>(({ context }) => ({ log: [...context.log, label] }));

/** Compound states with entry and exit actions, targets in and out of them, re-entry and eventless chains. */
const nestedToy = setup({
  types: {} as { context: Ctx; events: NestedEv; emitted: { type: 'entered'; n: number } },
  guards: {
    odd: ({ context }) => context.n % 2 === 1,
    'three ticks': ({ context }) => context.n >= 3 && context.n % 3 === 0,
    'log is long': ({ context }) => context.log.length > 8,
  },
  actions: {
    tick: assign(({ context }) => ({ n: context.n + 1 })),
    'trim log': assign(({ context }) => ({ log: context.log.slice(-3) })),
    'announce entry': emit(({ context }) => ({ type: 'entered', n: context.n })),
  },
}).createMachine({
  id: 'nested',
  context: { n: 0, log: [] },
  initial: 'idle',
  on: { tick: { actions: 'tick' } },
  always: { guard: 'log is long', actions: 'trim log' },
  states: {
    idle: {
      entry: mark('+idle'),
      exit: mark('-idle'),
      on: { in: 'busy', deep: 'busy.working.hard', sib: { target: 'done', guard: 'odd' } },
    },
    busy: {
      entry: [mark('+busy'), 'announce entry'],
      exit: mark('-busy'),
      initial: 'waiting',
      on: {
        out: { target: 'idle', actions: mark('out') },
        again: { target: 'busy', reenter: true, actions: mark('again') },
        self: { target: 'busy', actions: mark('self') },
        deep: '.working.hard',
      },
      // it counts on, or it would fire forever (as XState would)
      always: { guard: 'three ticks', target: '.working', actions: ['tick', mark('third')] },
      states: {
        waiting: {
          entry: mark('+waiting'),
          exit: mark('-waiting'),
          on: { up: { target: '#nested.busy.working', actions: mark('up') }, sib: 'working' },
        },
        working: {
          entry: mark('+working'),
          exit: mark('-working'),
          initial: 'easy',
          on: { up: { target: '#nested.idle', actions: mark('up-out') }, sib: '.hard' },
          states: {
            easy: {
              entry: mark('+easy'),
              exit: mark('-easy'),
              on: { tick: { guard: 'odd', target: 'hard', actions: 'tick' } },
            },
            hard: {
              entry: mark('+hard'),
              exit: mark('-hard'),
              always: { guard: 'odd', target: '#nested.done' },
            },
          },
        },
      },
    },
    done: { entry: mark('+done'), on: { in: { target: 'busy.working', reenter: true }, out: 'gone' } },
    // a final state of the root: the machine is done, its actor takes no more events
    gone: { type: 'final', entry: mark('+gone') },
  },
});
