import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { pureMachine } from './pure-machine.ts';

const counter = setup({
  types: {} as {
    context: { n: number };
    events: { type: 'add'; by: number } | { type: 'reset' };
    input: number;
  },
  guards: { 'past ten': ({ context }) => context.n > 10 },
  actions: {
    add: assign({ n: ({ context, event }) => context.n + (event.type === 'add' ? event.by : 0) }),
    zero: assign({ n: 0 }),
  },
}).createMachine({
  id: 'counter',
  context: ({ input }) => ({ n: input }),
  initial: 'low',
  states: {
    low: { on: { add: { target: 'checking', actions: 'add' } } },
    checking: { always: [{ guard: 'past ten', target: 'high' }, { target: 'low' }] },
    high: { on: { reset: { target: 'low', actions: 'zero' } } },
  },
});

describe('pureMachine', () => {
  const run = pureMachine<
    ReturnType<typeof counter.resolveState>,
    { type: 'add'; by: number } | { type: 'reset' }
  >(counter, 0);

  it('steps without an actor, naming every transition taken, eventless hops included', () => {
    const s0 = run.start(5);
    expect(s0.value).toBe('low');
    const a = run.step(s0, { type: 'add', by: 3 });
    expect(a.snapshot.value).toBe('low');
    expect(a.snapshot.context.n).toBe(8);
    expect(a.taken).toEqual(['counter.low#0', 'counter.checking#1']);
    const b = run.step(a.snapshot, { type: 'add', by: 3 });
    expect(b.snapshot.value).toBe('high');
    expect(b.taken).toEqual(['counter.low#0', 'counter.checking#0']);
    // an event the state does not take changes nothing and takes nothing
    const c = run.step(b.snapshot, { type: 'add', by: 1 });
    expect(c.snapshot.context.n).toBe(11);
    expect(c.taken).toEqual([]);
  });

  it('is a function of its arguments: a snapshot is never changed, and can be stepped again', () => {
    const s = run.resolve('low', { n: 1 });
    const x = run.step(s, { type: 'add', by: 2 });
    const y = run.step(s, { type: 'add', by: 2 });
    expect(s.context.n).toBe(1);
    expect(x.snapshot.context).toEqual(y.snapshot.context);
    expect(x.taken).toEqual(y.taken);
  });
});
