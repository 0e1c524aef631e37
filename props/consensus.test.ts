/**
 * Consensus invariants over generated validator sets (4 to 10 validators, unequal powers) and fault
 * plans (fast-check shrinks a failing case to a small one and prints it with its seed).
 * `npm run props -- --runs 10000` runs many more.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BYZANTINE_BEHAVIOURS,
  type ByzantineBehaviour,
  Cluster,
  type ClusterOptions,
  type ClusterReport,
  runCluster,
} from '../sim/cluster.ts';
import { describePlan, type FaultPlan, NO_FAULTS } from '../sim/faults.ts';
import {
  faultPlanArb,
  forkableSetArb,
  type GeneratedValidators,
  nodeIds,
  validatorSetArb,
} from './arbitraries.ts';
import { propParams } from './config.ts';
import { recordFailingRun } from './trace.ts';

/** Every Byzantine behaviour: equivocation, twins, silence and the lies of sim/adversary.ts. */
const behaviour = fc.constantFrom<ByzantineBehaviour>(...BYZANTINE_BEHAVIOURS);

function explain(r: ClusterReport, plan: FaultPlan, set?: GeneratedValidators): string {
  const validators =
    set === undefined
      ? ''
      : ` validators (${set.kind}): powers ${set.powers.join(',')}, ${set.byzantine} Byzantine,`;
  return `seed=${r.seed}${validators} plan: ${describePlan(plan)}\nviolations: ${r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n  ')}`;
}

/** A generated validator set (Byzantine power below 1/3) and a fault plan over its nodes. */
const setAndPlan = (shape: {
  window: number;
  maxPartitions: number;
  maxCrashes: number;
  restart: boolean;
  maxWriteCrashes: number;
}) =>
  validatorSetArb().chain((set) =>
    faultPlanArb({ nodes: nodeIds(set), ...shape }).map((plan) => ({ set, plan })),
  );

const clusterOf = (set: GeneratedValidators) => ({
  validators: set.powers.length,
  powers: set.powers,
  byzantine: set.byzantine,
});

describe('consensus properties (simulated cluster)', () => {
  it('agreement, validity, integrity, justified votes and no double signing with Byzantine power below 1/3, under any faults', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        behaviour,
        setAndPlan({ window: 2_000, maxPartitions: 2, maxCrashes: 2, restart: false, maxWriteCrashes: 2 }),
        (seed, b, { set, plan }) => {
          const options: ClusterOptions = {
            seed,
            ...clusterOf(set),
            behaviour: b,
            heights: 6,
            plan,
            livenessPerHeightMs: 1_000,
            trace: false, // the trace hash is the determinism property's; a failure is replayed with a recorder
          };
          const r = runCluster(options);
          const safety = r.violations.filter((v) => v.invariant !== 'liveness');
          if (safety.length > 0) {
            const why = explain(r, plan, set);
            const trace = recordFailingRun('consensus.safety', () => new Cluster(options), why);
            expect(safety, `${why}\n${trace}`).toEqual([]);
          }
        },
      ),
      propParams('consensus.safety', 80),
    );
  });

  it('liveness: once the network heals and crashed nodes are back, every honest node commits k more heights', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        behaviour,
        setAndPlan({ window: 2_000, maxPartitions: 2, maxCrashes: 2, restart: true, maxWriteCrashes: 1 }),
        (seed, b, { set, plan }) => {
          const options: ClusterOptions = {
            seed,
            ...clusterOf(set),
            behaviour: b,
            heights: 8,
            plan,
            livenessPerHeightMs: 3_000,
            trace: false,
          };
          const r = runCluster(options);
          if (r.violations.length > 0) {
            const why = explain(r, plan, set);
            const trace = recordFailingRun('consensus.liveness', () => new Cluster(options), why);
            expect(r.violations, `${why}\n${trace}`).toEqual([]);
          }
          const honest = nodeIds(set).slice(0, set.powers.length - set.byzantine);
          for (const id of honest) expect(r.heights[id], explain(r, plan, set)).toBeGreaterThanOrEqual(8);
        },
      ),
      propParams('consensus.liveness', 45),
    );
  });

  it('accountability: with Byzantine power above 1/3, whenever agreement breaks the evidence names at least n/3 of the power', () => {
    let broke = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.constantFrom<ByzantineBehaviour>('twins', 'silent'),
        forkableSetArb().chain((set) =>
          faultPlanArb({
            nodes: nodeIds(set),
            window: 1_000,
            maxPartitions: 2,
            maxCrashes: 0,
            restart: true,
          }).map((plan) => ({ set, plan })),
        ),
        (seed, b, { set, plan }) => {
          // the twins of the Byzantine validators split across a partition is the classic way to
          // fork; with silent Byzantine nodes only a bug can fork, and then nobody can be blamed
          const split: FaultPlan = {
            ...plan,
            partitions: [{ from: 0, until: 2_000, groups: set.sides }, ...plan.partitions],
          };
          const r = runCluster({
            seed,
            validators: set.powers.length,
            powers: set.powers,
            byzantine: set.byzantine,
            behaviour: b,
            heights: 4,
            plan: split,
            livenessPerHeightMs: 1_000,
            trace: false,
          });
          if (r.agreementBroken) broke++;
          const why = `powers ${set.powers.join(',')}, ${set.byzantine} Byzantine; ${explain(r, split)}`;
          // honest nodes re-send the twins' conflicting votes: that must never read as their own
          expect(
            r.violations.filter((v) => v.invariant === 'accountability' || v.invariant === 'double-sign'),
            why,
          ).toEqual([]);
          if (r.agreementBroken) expect(r.culpritPower * 3, why).toBeGreaterThanOrEqual(r.totalPower);
        },
      ),
      propParams('consensus.accountability', 20),
    );
    // the property is only meaningful if forks really happen in the generated runs
    expect(broke).toBeGreaterThan(0);
  });

  it('negative control: with f+1 Byzantine validators in coalition, the checker sees agreement break', () => {
    // the same invariants must be able to fail: more than a third of the power lying in concert
    // (true messages to one half of the honest validators, an alternative to the other) forks
    let forks = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.constantFrom(4, 7, 10),
        fc.integer({ min: 1, max: 40 }),
        (seed, n, maxDelay) => {
          const f = Math.floor((n - 1) / 3);
          const r = runCluster({
            seed,
            validators: n,
            byzantine: f + 1,
            behaviour: 'coalition',
            heights: 4,
            plan: { ...NO_FAULTS, links: { drop: 0, duplicate: 0, minDelay: 1, maxDelay } },
            livenessPerHeightMs: 1_000,
            stopOnFork: true,
            trace: false,
          });
          if (r.agreementBroken) forks++;
          // and accountability still holds: a fork comes with proof against a third of the power
          const why = `seed=${seed} n=${n}: ${r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('; ')}`;
          expect(
            r.violations.filter((v) => v.invariant === 'accountability'),
            why,
          ).toEqual([]);
        },
      ),
      propParams('consensus.negative-control', 12),
    );
    expect(forks).toBeGreaterThan(0);
  });

  it('determinism: the same seed and plan give the same trace hash; another seed another', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        setAndPlan({ window: 1_000, maxPartitions: 1, maxCrashes: 1, restart: true, maxWriteCrashes: 1 }),
        (seed, { set, plan }) => {
          const run = (s: number) =>
            runCluster({ seed: s, ...clusterOf(set), behaviour: 'equivocate', heights: 3, plan });
          const a = run(seed);
          expect(run(seed).traceHash).toBe(a.traceHash);
          expect(run(seed + 1).traceHash).not.toBe(a.traceHash);
        },
      ),
      propParams('consensus.determinism', 8),
    );
  });
});
