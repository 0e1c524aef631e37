/**
 * Consensus invariants over generated fault plans (fast-check shrinks a failing plan to a small
 * one and prints it with its seed). `npm run props -- --runs 10000` runs many more.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ByzantineBehaviour,
  Cluster,
  type ClusterOptions,
  type ClusterReport,
  runCluster,
} from '../node/sim/cluster.ts';
import { describePlan, type FaultPlan } from '../runtime/sim/faults.ts';
import { faultPlanArb } from './arbitraries.ts';
import { propParams } from './config.ts';
import { recordFailingRun } from './trace.ts';

const NODES4 = ['n0', 'n1', 'n2', 'n3'];
const behaviour = fc.constantFrom<ByzantineBehaviour>('equivocate', 'twins', 'silent');

function explain(r: ClusterReport, plan: FaultPlan): string {
  return `seed=${r.seed} plan: ${describePlan(plan)}\nviolations: ${r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n  ')}`;
}

describe('consensus properties (simulated cluster)', () => {
  it('agreement, validity, integrity and no double signing with f Byzantine of 3f+1, under any faults', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        behaviour,
        faultPlanArb({ nodes: NODES4, window: 2_000, maxPartitions: 2, maxCrashes: 2, restart: false }),
        (seed, b, plan) => {
          const options: ClusterOptions = {
            seed,
            validators: 4,
            byzantine: 1,
            behaviour: b,
            heights: 6,
            plan,
            livenessPerHeightMs: 1_000,
          };
          const r = runCluster(options);
          const safety = r.violations.filter((v) => v.invariant !== 'liveness');
          if (safety.length > 0) {
            const trace = recordFailingRun('consensus.safety', () => new Cluster(options), explain(r, plan));
            expect(safety, `${explain(r, plan)}\n${trace}`).toEqual([]);
          }
        },
      ),
      propParams('consensus.safety', 100),
    );
  });

  it('liveness: once the network heals and crashed nodes are back, every honest node commits k more heights', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        behaviour,
        faultPlanArb({ nodes: NODES4, window: 2_000, maxPartitions: 2, maxCrashes: 2, restart: true }),
        (seed, b, plan) => {
          const options: ClusterOptions = {
            seed,
            validators: 4,
            byzantine: 1,
            behaviour: b,
            heights: 8,
            plan,
            livenessPerHeightMs: 3_000,
          };
          const r = runCluster(options);
          if (r.violations.length > 0) {
            const trace = recordFailingRun(
              'consensus.liveness',
              () => new Cluster(options),
              explain(r, plan),
            );
            expect(r.violations, `${explain(r, plan)}\n${trace}`).toEqual([]);
          }
          for (const [id, h] of Object.entries(r.heights))
            if (!id.startsWith('n3')) expect(h).toBeGreaterThanOrEqual(8);
        },
      ),
      propParams('consensus.liveness', 60),
    );
  });

  it('accountability: with f+1 Byzantine, whenever agreement breaks the evidence names at least n/3 of the power', () => {
    let broke = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.constantFrom<ByzantineBehaviour>('twins', 'silent'),
        faultPlanArb({ nodes: NODES4, window: 1_000, maxPartitions: 2, maxCrashes: 0, restart: true }),
        (seed, b, plan) => {
          // the twins of two validators split across a partition is the classic way to fork; with
          // silent Byzantine nodes only a bug can fork, and then nobody can be blamed
          const split: FaultPlan = {
            ...plan,
            partitions: [
              {
                from: 0,
                until: 2_000,
                groups: [
                  ['n0', 'n2', 'n3'],
                  ['n1', 'n2-twin', 'n3-twin'],
                ],
              },
              ...plan.partitions,
            ],
          };
          const r = runCluster({
            seed,
            validators: 4,
            byzantine: 2,
            behaviour: b,
            heights: 4,
            plan: split,
            livenessPerHeightMs: 1_000,
          });
          if (r.agreementBroken) broke++;
          // honest nodes re-send the twins' conflicting votes: that must never read as their own
          expect(
            r.violations.filter((v) => v.invariant === 'accountability' || v.invariant === 'double-sign'),
            explain(r, split),
          ).toEqual([]);
          if (r.agreementBroken) expect(r.culpritPower * 3).toBeGreaterThanOrEqual(r.totalPower);
        },
      ),
      propParams('consensus.accountability', 30),
    );
    // the property is only meaningful if forks really happen in the generated runs
    expect(broke).toBeGreaterThan(0);
  });

  it('determinism: the same seed and plan give the same trace hash; another seed another', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        faultPlanArb({ nodes: NODES4, window: 1_000, maxPartitions: 1, maxCrashes: 1, restart: true }),
        (seed, plan) => {
          const run = (s: number) =>
            runCluster({ seed: s, validators: 4, byzantine: 1, behaviour: 'equivocate', heights: 3, plan });
          const a = run(seed);
          expect(run(seed).traceHash).toBe(a.traceHash);
          expect(run(seed + 1).traceHash).not.toBe(a.traceHash);
        },
      ),
      propParams('consensus.determinism', 8),
    );
  });
});
