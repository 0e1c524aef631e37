import { describe, expect, it } from 'vitest';
import {
  advanceProposer,
  initialPriorities,
  makeValidatorSet,
  oneThirdPlus,
  proposerForRound,
  quorum,
  ValidatorSetError,
} from './validators.ts';

describe('validator sets', () => {
  it('quorum is strictly more than 2/3, skip is strictly more than 1/3', () => {
    expect(quorum(4)).toBe(3);
    expect(quorum(3)).toBe(3);
    expect(quorum(100)).toBe(67);
    expect(oneThirdPlus(4)).toBe(2);
    expect(oneThirdPlus(3)).toBe(2);
    expect(oneThirdPlus(100)).toBe(34);
  });

  it('rejects empty sets, non-positive power and duplicates', () => {
    const v = (id: string, power: number) => ({ id, publicKey: new Uint8Array(32), power });
    expect(() => makeValidatorSet([])).toThrow(ValidatorSetError);
    expect(() => makeValidatorSet([v('a', 0)])).toThrow(/power/);
    expect(() => makeValidatorSet([v('a', 1), v('a', 2)])).toThrow(/twice/);
    expect(makeValidatorSet([v('b', 1), v('a', 2)]).validators.map((x) => x.id)).toEqual(['a', 'b']);
  });

  it('equal powers rotate through every validator', () => {
    const powers = [1, 1, 1, 1];
    const start = initialPriorities(powers);
    const seq = [0, 1, 2, 3, 4, 5, 6, 7].map((r) => proposerForRound(powers, start, r));
    expect(new Set(seq.slice(0, 4))).toEqual(new Set([0, 1, 2, 3]));
    expect(seq.slice(4)).toEqual(seq.slice(0, 4));
  });

  it('proposes in proportion to power over a window', () => {
    const powers = [1, 2, 3, 4];
    let p = initialPriorities(powers);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 1000; i++) {
      const step = advanceProposer(powers, p);
      counts[step.proposer]!++;
      p = step.next;
    }
    expect(counts).toEqual([100, 200, 300, 400]);
  });
});
