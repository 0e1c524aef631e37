/**
 * Front-running prevention end to end, in the simulator: consensus + mempool + decryptor +
 * executor on every node, the DKG on chain, clients submitting plain and encrypted mints.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ByzantineBehaviour } from '../sim/cluster.ts';
import { describePlan, type FaultPlan, NO_FAULTS } from '../sim/faults.ts';
import { type PipelineReport, runPipeline } from '../sim/pipeline.ts';
import { faultPlanArb } from './arbitraries.ts';
import { propParams } from './config.ts';

const NODES4 = ['n0', 'n1', 'n2', 'n3'];

function explain(r: PipelineReport, plan: FaultPlan): string {
  return `seed=${r.seed} plan: ${describePlan(plan)}\nviolations: ${r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n  ')}`;
}

const run = (seed: number, plan: FaultPlan, variant = 0, heights = 22, behaviour?: ByzantineBehaviour) =>
  runPipeline({
    seed,
    validators: 4,
    byzantine: behaviour === undefined ? 0 : 1,
    behaviour: behaviour ?? 'silent',
    heights,
    plan,
    livenessPerHeightMs: 3_000,
    // nothing here reads the trace hash; recording it costs a fifth of a run
    trace: false,
    // odd seeds execute on a coordinator and 2 shard engines
    workload: { txs: 12, encrypted: 0.5, every: 5, variant, ...(seed % 2 === 1 ? { shards: 2 } : {}) },
  });

describe('ordering pipeline (simulated cluster)', () => {
  it('runs the DKG on chain, then executes every committed encrypted transaction once, in order, with its plaintext', () => {
    const r = run(7, NO_FAULTS);
    expect(r.violations, explain(r, NO_FAULTS)).toEqual([]);
    expect(r.dkgHeight).toBeDefined();
    expect(r.submitted.encrypted).toBeGreaterThan(0);
    expect(r.committed.encrypted).toBe(r.submitted.encrypted);
    expect(r.committed.plain).toBe(r.submitted.plain);
    expect(r.executed).toBe(r.submitted.encrypted + r.submitted.plain);
    // mints by the authority with distinct nonces: every one is accepted
    expect(r.accepted).toBe(r.executed);
  });

  it('ordering blindness: other plaintexts of the same length and fee leave the committed order unchanged', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 1, max: 1000 }),
        (seed, variant) => {
          const a = run(seed, NO_FAULTS, 0, 18);
          const b = run(seed, NO_FAULTS, variant, 18);
          expect(a.committed.encrypted).toBeGreaterThan(0);
          expect(b.committedOrder).toEqual(a.committedOrder);
        },
      ),
      propParams('pipeline.ordering-blindness', 3),
    );
  });

  it('every committed encrypted transaction is executed exactly once in committed order at every honest node, under faults and a Byzantine validator', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.option(fc.constantFrom<ByzantineBehaviour>('equivocate', 'twins', 'silent'), { nil: undefined }),
        faultPlanArb({ nodes: NODES4, window: 3_000, maxPartitions: 1, maxCrashes: 1, restart: true }),
        (seed, behaviour, plan) => {
          const r = run(seed, plan, 0, 22, behaviour);
          expect(r.violations, explain(r, plan)).toEqual([]);
        },
      ),
      propParams('pipeline.exactly-once', 8),
    );
  });
});
