import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { compiledMachine } from '../../runtime/compiled-machine.ts';
import { inertScope } from '../../runtime/pure-machine.ts';
import { idOfTaken } from '../../runtime/transition-id.ts';
import { initialRoundState, type RoundInput } from './round.ts';
import { phaseOf, type RoundContext, type RoundEvent, roundMachine } from './round-machine.ts';
import { initialPriorities } from './validators.ts';

const POWERS = [1, 1, 1, 1];
const VALUES = ['a', 'b', null] as const;

const input: fc.Arbitrary<RoundInput> = fc.oneof(
  fc.constant<RoundInput>({ kind: 'start-height' }),
  fc
    .record({
      type: fc.constantFrom('prevote' as const, 'precommit' as const),
      round: fc.integer({ min: 0, max: 2 }),
      validator: fc.integer({ min: 0, max: 3 }),
      value: fc.constantFrom(...VALUES),
    })
    .map(
      (v): RoundInput => ({ kind: 'vote', vote: { ...v, signed: `${v.type}/${v.validator}/${v.value}` } }),
    ),
  fc
    .record({
      round: fc.integer({ min: 0, max: 2 }),
      value: fc.constantFrom('a', 'b'),
      validRound: fc.integer({ min: -1, max: 1 }),
      valid: fc.boolean(),
    })
    .map((p): RoundInput => ({ kind: 'proposal', ...p })),
  fc
    .record({ round: fc.integer({ min: 0, max: 2 }), value: fc.constantFrom('a', 'b') })
    .map((p): RoundInput => ({ kind: 'propose-value', ...p })),
  fc
    .record({
      step: fc.constantFrom('propose' as const, 'prevote' as const, 'precommit' as const),
      round: fc.integer({ min: 0, max: 2 }),
    })
    .map((t): RoundInput => ({ kind: 'timeout', height: 1, ...t })),
);

describe('round machine on the compiled runner', () => {
  const compiled = compiledMachine(roundMachine);

  it('is a machine the compiled runner covers', () => {
    expect(compiled).toBeDefined();
  });

  it('takes, from any reachable state, exactly the transitions XState takes, with the same outputs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.array(input, { maxLength: 40 }), (self, inputs) => {
        let ctx: RoundContext = {
          s: initialRoundState(1, self, POWERS, initialPriorities(POWERS)),
          out: [],
        };
        for (const i of inputs) {
          const event = { type: i.kind, input: i } as RoundEvent;
          const value = phaseOf(ctx.s);
          const want: string[] = [];
          const scope = inertScope(roundMachine, (_v, ts) => want.push(...ts.map(idOfTaken)));
          const x = roundMachine.transition(
            roundMachine.resolveState({ value, context: ctx }),
            event,
            scope as never,
          );
          const got: string[] = [];
          const f = compiled!.step(value, ctx, event, (_v, ts) => got.push(...ts.map(idOfTaken)));
          expect(f.value).toBe(x.value);
          expect(f.context).toEqual(x.context);
          expect(got).toEqual(want);
          ctx = { s: (f.context as RoundContext).s, out: [] };
        }
      }),
      propParams('consensus.round-machine-compiled', 300),
    );
  });
});
