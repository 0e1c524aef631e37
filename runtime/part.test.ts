import { describe, expect, it } from 'vitest';
import { assign, enqueueActions, setup } from 'xstate';
import { s } from '../wire/schema.ts';
import { defineEngine, type EngineEmitted, type EngineEvent, type EngineInput } from './engine.ts';
import { EngineGraph } from './graph.ts';
import { encodeInspectEvent, type InspectEvent, Inspector } from './inspect.ts';
import { partTransition } from './part.ts';
import { SimScheduler } from './scheduler.ts';

/** A part: a switch that breaks after its third flip (an eventless rule, as the round machine's). */
const switchMachine = setup({
  types: {} as { context: { flips: number }; events: { type: 'flip' } },
  guards: { 'worn out': ({ context }) => context.flips >= 3 },
  actions: { 'count the flip': assign(({ context }) => ({ flips: context.flips + 1 })) },
}).createMachine({
  id: 'switch',
  context: { flips: 0 },
  initial: 'off',
  states: {
    off: { on: { flip: { target: 'on', actions: 'count the flip' } } },
    on: {
      on: { flip: { target: 'off', actions: 'count the flip' } },
      always: { guard: 'worn out', target: 'broken' },
    },
    broken: {},
  },
});
const flipSwitch = partTransition(switchMachine);

const lampInputs = { flip: s.unit(), flipThenFail: s.unit(), nothing: s.unit() };
const lampOutputs = { lit: s.bool() };
type LampContext = { switchState: string; flips: number };

/** The lamp's step runs the switch as a pure transition, as consensus runs its round machine. */
const flipped = (c: LampContext) => {
  const before = switchMachine.resolveState({ value: c.switchState, context: { flips: c.flips } });
  const after = flipSwitch(before, { type: 'flip' });
  return { switchState: String(after.value), flips: after.context.flips };
};

const lampEngine = defineEngine<typeof lampInputs, typeof lampOutputs, undefined>({
  name: 'lamp',
  inputs: lampInputs,
  outputs: lampOutputs,
  parts: { switch: switchMachine },
  machine: setup({
    types: {} as {
      context: LampContext;
      events: EngineEvent<typeof lampInputs>;
      emitted: EngineEmitted<typeof lampOutputs>;
      input: EngineInput<undefined>;
    },
    actions: {
      flip: enqueueActions(({ context, enqueue }) => {
        const next = flipped(context);
        enqueue.assign(next);
        enqueue.emit({ type: 'lit', msg: next.switchState === 'on' });
      }),
      'flip, then fail': ({ context }) => {
        flipped(context);
        throw new Error('failed after flipping');
      },
    },
  }).createMachine({
    id: 'lamp',
    context: { switchState: 'off', flips: 0 },
    initial: 'working',
    states: {
      working: {
        on: { flip: { actions: 'flip' }, flipThenFail: { actions: 'flip, then fail' }, nothing: {} },
      },
    },
  }),
});

type Input = keyof typeof lampInputs;

function run(inputs: readonly Input[], o: { watch: boolean }) {
  const scheduler = new SimScheduler(1);
  const inspector = new Inspector();
  const g = new EngineGraph({ node: 'n', scheduler, inspector });
  const lamp = g.add('lamp', lampEngine);
  const lit: boolean[] = [];
  g.observe(lamp.out.lit).subscribe((v) => lit.push(v));
  const events: InspectEvent[] = [];
  const watching = o.watch ? inspector.events$.subscribe((e) => events.push(e)) : undefined;
  g.start();
  // one at a time: inputs on different ports are not ordered otherwise
  for (const input of inputs) {
    g.send(lamp.in[input], undefined);
    scheduler.run();
  }
  const instance = g.instance('lamp');
  const states = new Map(instance.partStates());
  watching?.unsubscribe();
  const steps = events.flatMap((e) => (e.kind === 'transition' ? [e] : []));
  return { lit, steps, states, instance, g, lamp, scheduler };
}

describe("an engine's parts, watched while inspected", () => {
  it('records each part state and the transitions it took, in the statechart id scheme', () => {
    const { steps, states } = run(['nothing', 'flip', 'flip', 'nothing', 'flip'], { watch: true });
    expect(steps.map((e) => e.parts)).toEqual([
      // nothing is known of the switch before it first runs
      undefined,
      [{ part: 'switch', state: 'on', taken: ['switch.off#0'] }],
      [{ part: 'switch', state: 'off', taken: ['switch.on#0'] }],
      // a step that does not run the part: where it is, nothing taken
      [{ part: 'switch', state: 'off', taken: [] }],
      // an input and the eventless rule it enables, hop by hop
      [{ part: 'switch', state: 'broken', taken: ['switch.off#0', 'switch.on#1'] }],
    ]);
    expect(states).toEqual(new Map([['switch', 'broken']]));
  });

  it('a failed step leaves what is recorded of its parts as before it', () => {
    const { steps, instance } = run(['flip', 'flipThenFail', 'nothing'], { watch: true });
    expect(instance.restarts).toBe(1);
    expect(steps.map((e) => e.parts?.[0]?.state)).toEqual(['on', 'on']);
    expect(steps.at(-1)!.parts).toEqual([{ part: 'switch', state: 'on', taken: [] }]);
  });

  it('costs nothing unwatched: nothing is kept, and the engine does the same', () => {
    const inputs: Input[] = ['flip', 'nothing', 'flip', 'flip', 'flip'];
    const watched = run(inputs, { watch: true });
    const unwatched = run(inputs, { watch: false });
    expect(unwatched.lit).toEqual(watched.lit);
    expect(unwatched.lit).toEqual([true, false, false, false]);
    expect(unwatched.states.size).toBe(0);
    expect(unwatched.instance.context<LampContext>()).toEqual(watched.instance.context<LampContext>());
  });

  it('forgets part states once nobody watches (they would go stale)', () => {
    const { instance, g, lamp, scheduler } = run(['flip'], { watch: true });
    expect(instance.partStates().get('switch')).toBe('on');
    g.send(lamp.in.flip, undefined);
    scheduler.run();
    expect(instance.partStates().size).toBe(0);
  });

  it('part steps are not part of the trace hash', () => {
    const { steps } = run(['flip'], { watch: true });
    const step = steps.at(-1)!;
    expect(step.parts).toBeDefined();
    const { parts: _, ...without } = step;
    expect(encodeInspectEvent(step)).toEqual(encodeInspectEvent(without as InspectEvent));
  });
});
