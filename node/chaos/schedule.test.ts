import { describe, expect, it } from 'vitest';
import {
  describePerturbation,
  FULL_ROUND_SECONDS,
  fullDiskNodes,
  PERTURBATION_KINDS,
  planPerturbations,
} from './schedule.ts';

const kindsOf = (plan: ReturnType<typeof planPerturbations>) => plan.map((p) => p.perturbation.kind);

describe('the chaos schedule', () => {
  it('is fixed by the seed', () => {
    for (const seed of [0, 1, 42, 2 ** 32 - 1]) {
      const o = { seed, duration: 300, validators: 4 };
      expect(planPerturbations(o)).toEqual(planPerturbations(o));
    }
    const a = planPerturbations({ seed: 1, duration: 300, validators: 4 });
    const b = planPerturbations({ seed: 2, duration: 300, validators: 4 });
    expect(a).not.toEqual(b);
  });

  it(`a run of ${FULL_ROUND_SECONDS} s or more has every kind in its first round, which fits the duration`, () => {
    for (let seed = 0; seed < 200; seed++) {
      for (const duration of [FULL_ROUND_SECONDS, 600]) {
        const plan = planPerturbations({ seed, duration, validators: 4 });
        const round = plan.slice(0, PERTURBATION_KINDS.length);
        expect(new Set(kindsOf(round))).toEqual(new Set(PERTURBATION_KINDS));
        expect(round.every((p) => p.required)).toBe(true);
        expect(plan.slice(PERTURBATION_KINDS.length).some((p) => p.required)).toBe(false);
        // the planned round leaves room: its generous estimates fit well within the duration
        const roundMs = round.reduce((t, p) => t + p.nominalMs, 0);
        expect(roundMs).toBeLessThanOrEqual(FULL_ROUND_SECONDS * 1000 * 0.75);
        // and the whole plan covers twice the duration: it never runs out before the deadline
        expect(plan.reduce((t, p) => t + p.nominalMs, 0)).toBeGreaterThanOrEqual(2 * duration * 1000);
      }
    }
  });

  it('a short run takes what fits of a shuffled round (at least one), none required', () => {
    const firsts = new Set<string>();
    for (let seed = 0; seed < 50; seed++) {
      const plan = planPerturbations({ seed, duration: 45, validators: 4 });
      expect(plan.length).toBeGreaterThanOrEqual(1);
      expect(plan.some((p) => p.required)).toBe(false);
      expect(new Set(kindsOf(plan)).size).toBe(plan.length); // still the first round: no repeats
      firsts.add(plan[0]!.perturbation.kind);
    }
    expect(firsts.size).toBeGreaterThan(3); // the round is shuffled per seed
  });

  it('draws targets among the validators, two distinct ones for two-down, and a minority or half for a partition', () => {
    for (let seed = 0; seed < 100; seed++) {
      const n = 4 + (seed % 4);
      for (const { perturbation: p } of planPerturbations({ seed, duration: 600, validators: n })) {
        const inRange = (i: number) => Number.isInteger(i) && i >= 0 && i < n;
        if ('node' in p && p.node !== null) expect(inRange(p.node)).toBe(true);
        if (p.kind === 'two-down') {
          expect(p.nodes.every(inRange)).toBe(true);
          expect(p.nodes[0]).not.toBe(p.nodes[1]);
        }
        if (p.kind === 'partition') {
          expect(p.side.every(inRange)).toBe(true);
          expect(new Set(p.side).size).toBe(p.side.length);
          expect(p.side.length).toBeGreaterThanOrEqual(1);
          expect(p.side.length).toBeLessThanOrEqual(n / 2);
        }
        expect(describePerturbation(p, [])).not.toBe('');
      }
    }
  });

  it('names the validators whose disk it fills', () => {
    const plan = planPerturbations({ seed: 7, duration: 900, validators: 4 });
    const expected = [
      ...new Set(plan.flatMap((p) => (p.perturbation.kind === 'full-disk' ? [p.perturbation.node] : []))),
    ].sort();
    expect(fullDiskNodes(plan)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(0);
  });

  it('refuses fewer than 4 validators', () => {
    expect(() => planPerturbations({ seed: 1, duration: 60, validators: 3 })).toThrow(/at least 4/);
  });
});
