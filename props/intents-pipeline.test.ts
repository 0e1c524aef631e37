/**
 * Intents through the whole simulated pipeline, under consensus fault plans: gossip on every
 * node, solvers on n0 and n1 competing for the same intents, settlements through mempool,
 * consensus and executor. Each intent is settled at most once, every trader keeps its limit
 * price, every asset's supply is what was minted, and with no faults every intent settles.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ByzantineBehaviour } from '../sim/cluster.ts';
import { describePlan, type FaultPlan, NO_FAULTS } from '../sim/faults.ts';
import { type IntentSimReport, runIntentSim } from '../sim/intents.ts';
import { faultPlanArb } from './arbitraries.ts';
import { propParams } from './config.ts';

const NODES4 = ['n0', 'n1', 'n2', 'n3'];

const run = (seed: number, plan: FaultPlan, behaviour?: ByzantineBehaviour) =>
  runIntentSim({
    seed,
    validators: 4,
    byzantine: behaviour === undefined ? 0 : 1,
    behaviour: behaviour ?? 'silent',
    heights: 20,
    plan,
    livenessPerHeightMs: 3_000,
    trace: false,
    workload: { txs: 2, encrypted: 0.5, every: 5 },
    traders: 6,
    solvers: ['n0', 'n1'],
  });

const explain = (r: IntentSimReport, plan: FaultPlan) =>
  `seed=${r.seed} plan: ${describePlan(plan)} intents: ${JSON.stringify(r.intents)}\nviolations: ${r.violations
    .map((v) => `${v.invariant}: ${v.detail}`)
    .join('\n  ')}`;

describe('intents in the simulated pipeline', () => {
  it('with no faults, two rings of three settle; the second solver loses cleanly', () => {
    const r = run(5, NO_FAULTS);
    expect(r.violations, explain(r, NO_FAULTS)).toEqual([]);
    expect(r.intents.submitted).toBe(6);
    expect(r.intents.settled).toBe(6);
    expect(r.intents.settlements).toBeGreaterThanOrEqual(1);
  });

  it('property: under crashes, partitions and a Byzantine validator, no intent settles twice, limits and supply hold', () => {
    let settledRuns = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.option(fc.constantFrom<ByzantineBehaviour>('equivocate', 'silent'), { nil: undefined }),
        faultPlanArb({ nodes: NODES4, window: 2_000, maxPartitions: 1, maxCrashes: 1, restart: true }),
        (seed, behaviour, plan) => {
          const r = run(seed, plan, behaviour);
          expect(r.violations, explain(r, plan)).toEqual([]);
          expect(r.intents.submitted).toBe(6);
          if (r.intents.settled > 0) settledRuns++;
        },
      ),
      propParams('intents.pipeline-faults', 3),
    );
    // not vacuous: settlements happened under the faults
    expect(settledRuns).toBeGreaterThan(0);
  });
});
