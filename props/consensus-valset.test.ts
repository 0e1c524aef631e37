/**
 * Validator set changes: decided by the application at height h, in force from h+2. A full node
 * joins the set and a genesis validator leaves it while the chain keeps every invariant.
 */

import { describe, expect, it } from 'vitest';
import type { ConsensusContext } from '../engines/consensus/machine.ts';
import { Cluster } from '../sim/cluster.ts';
import { NO_FAULTS } from '../sim/faults.ts';

function run(seed: number, faulty: boolean) {
  const cluster = new Cluster({
    seed,
    validators: 4,
    byzantine: faulty ? 1 : 0,
    behaviour: 'equivocate',
    fullNodes: 1,
    heights: 14,
    validatorChanges: [
      { height: 3, node: 'n4', power: 1 },
      { height: 7, node: 'n0', power: 0 },
    ],
    plan: faulty
      ? {
          ...NO_FAULTS,
          links: { drop: 0.05, duplicate: 0.05, minDelay: 1, maxDelay: 30 },
          crashes: [{ node: 'n1', at: 300, restartAt: 900 }],
        }
      : NO_FAULTS,
  });
  return { cluster, report: cluster.run() };
}

describe('validator set changes', () => {
  it('a full node joins and a validator leaves, two heights after the deciding block', () => {
    const { cluster, report } = run(5, false);
    expect(report.violations).toEqual([]);
    expect(Object.values(report.heights).every((h) => h >= 14)).toBe(true);
    const key = (id: string) => cluster.nodes.find((n) => n.id === id)!.key;
    const final = cluster.setAt(14n);
    expect(final.index.has(key('n4'))).toBe(true);
    expect(final.index.has(key('n0'))).toBe(false);
    expect(cluster.setAt(2n).index.has(key('n4'))).toBe(false);
    // the nodes themselves agree: n4 now validates, n0 only follows
    const ctx = (id: string) =>
      cluster.nodes
        .find((n) => n.id === id)!
        .graph!.instance('consensus')
        .context<ConsensusContext>().core;
    expect(ctx('n4').self).toBeGreaterThanOrEqual(0);
    expect(ctx('n0').self).toBe(-1);
    expect(
      ctx('n2')
        .validators.validators.map((v) => v.id)
        .sort(),
    ).toEqual([...final.validators.map((v) => v.id)].sort());
  });

  it('keeps agreement and liveness through set changes with a Byzantine validator, loss and a crash', () => {
    for (const seed of [1, 2, 3]) {
      const { report } = run(seed, true);
      expect(report.violations, `seed ${seed}`).toEqual([]);
    }
  });
});
