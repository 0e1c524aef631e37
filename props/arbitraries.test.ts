/** The generated validator sets are what the consensus properties claim they are. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exceedsTwoThirds } from '../sim/quorum.ts';
import { faultPlanArb, forkableSetArb, validatorSetArb } from './arbitraries.ts';
import { propParams } from './config.ts';

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const big = (x: number) => BigInt(x);

describe('generated validator sets', () => {
  it('4 to 10 validators, at least one Byzantine, holding less than 1/3 of the power; every shape drawn', () => {
    const kinds = new Set<string>();
    fc.assert(
      fc.property(validatorSetArb(), (set) => {
        kinds.add(set.kind);
        const n = set.powers.length;
        expect(n).toBeGreaterThanOrEqual(4);
        expect(n).toBeLessThanOrEqual(10);
        expect(set.powers.every((p) => Number.isSafeInteger(p) && p >= 1)).toBe(true);
        expect(set.byzantine).toBeGreaterThanOrEqual(1);
        const total = sum(set.powers);
        const honest = sum(set.powers.slice(0, n - set.byzantine));
        expect(3 * (total - honest)).toBeLessThan(total);
        expect(exceedsTwoThirds(big(honest), big(total))).toBe(true);
        if (set.kind === 'just-under-third') {
          // the most power one validator can hold and stay below 1/3: one more and it would not be
          const b = set.powers[n - 1]!;
          expect(3 * b).toBeLessThan(total);
          expect(3 * (b + 1)).toBeGreaterThanOrEqual(total + 1);
        }
        if (set.kind === 'count-not-power') {
          // the 2f+1 lightest validators, a quorum by count, are not one by power
          const f = Math.floor((n - 1) / 3);
          const lightest = [...set.powers].sort((a, b) => a - b).slice(0, 2 * f + 1);
          expect(exceedsTwoThirds(big(sum(lightest)), big(total))).toBe(false);
        }
      }),
      propParams('props.validator-sets', 300),
    );
    expect([...kinds].sort()).toEqual(['count-not-power', 'equal', 'just-under-third', 'random']);
  });

  it('forkable sets: each side of the split holds more than 2/3 with the Byzantine power', () => {
    fc.assert(
      fc.property(forkableSetArb(), (set) => {
        const total = sum(set.powers);
        const power = (id: string) => set.powers[Number(id.replace('-twin', '').slice(1))]!;
        for (const side of set.sides)
          expect(exceedsTwoThirds(big(sum(side.map(power))), big(total))).toBe(true);
        const byzantine = sum(set.powers.slice(set.powers.length - set.byzantine));
        expect(3 * byzantine).toBeGreaterThan(total);
        // every validator is on exactly one side (the Byzantine ones on both, as themselves and twins)
        const named = set.sides.flat().map((id) => id.replace('-twin', ''));
        expect(new Set(named).size).toBe(set.powers.length);
      }),
      propParams('props.forkable-sets', 300),
    );
  });
});

describe('generated fault plans', () => {
  const nodes = ['n0', 'n1', 'n2', 'n3'];
  const shape = { nodes, window: 2_000, maxPartitions: 1, maxCrashes: 1, restart: true, maxWriteCrashes: 2 };

  it('without storage faults asked for, a plan has none (and is drawn as before they existed)', () => {
    for (const plan of fc.sample(faultPlanArb(shape), { seed: 1, numRuns: 50 }))
      expect(plan.storageFaults).toBeUndefined();
  });

  it('with them, every kind is drawn, at the nodes given, within their bounds', () => {
    const kinds = new Set<string>();
    const plans = fc.sample(
      faultPlanArb({ ...shape, maxStorageFaults: 2, storageFaults: { maxSyncEvery: 8, anyOrder: true } }),
      { seed: 2, numRuns: 200 },
    );
    for (const plan of plans) {
      for (const f of plan.storageFaults ?? []) {
        kinds.add(f.kind);
        expect(nodes).toContain(f.node);
        expect(f.at).toBeGreaterThanOrEqual(1);
        if (f.kind === 'torn-write') expect([undefined, 'block']).toContain(f.write);
        if (typeof f.sync === 'number') expect(f.sync).toBeLessThanOrEqual(8);
      }
    }
    expect([...kinds].sort()).toEqual(['corrupt', 'lost-writes', 'torn-write']);
  });
});
