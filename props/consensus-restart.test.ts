/**
 * Kill-and-restart at every step of a round: a validator is crashed the moment its consensus
 * engine enters propose, prevote, precommit or commit (at several heights and for each validator
 * role), restarted from its storage alone, and the cluster must keep every invariant: no double
 * signing across the restart (the WAL), agreement, integrity, and liveness once it is back.
 */
import { describe, expect, it } from 'vitest';
import { type Cluster, runCluster } from '../node/sim/cluster.ts';
import { NO_FAULTS } from '../runtime/sim/faults.ts';

const STEPS = ['propose', 'prevote', 'precommit', 'commit'] as const;

function crashOnStep(step: string, victim: string, atHeight: number, downMs: number) {
  let done = false;
  let crashes = 0;
  const hook = (cluster: Cluster) => {
    cluster.inspector.events$.subscribe((e) => {
      if (done || e.node !== victim || e.engine !== 'consensus' || e.kind !== 'transition' || e.to !== step)
        return;
      const node = cluster.nodes.find((n) => n.id === victim)!;
      if (node.committed + 1n < BigInt(atHeight)) return;
      done = true;
      crashes++;
      // right after the step is entered (the current delivery completes first, as a real kill would land)
      cluster.scheduler.at(cluster.scheduler.now(), () => cluster.crash(node));
      cluster.scheduleRestart(node, cluster.scheduler.now() + downMs);
    });
  };
  return { hook, crashes: () => crashes };
}

describe('kill and restart at every step of a round', () => {
  for (const step of STEPS) {
    for (const victim of ['n0', 'n1', 'n2', 'n3']) {
      it(`${victim} killed on entering ${step}`, () => {
        const c = crashOnStep(step, victim, 3, 150);
        const r = runCluster({
          seed: 1000 + STEPS.indexOf(step) * 10 + Number(victim.slice(1)),
          validators: 4,
          byzantine: 0,
          behaviour: 'silent',
          heights: 7,
          plan: { ...NO_FAULTS, links: { drop: 0, duplicate: 0, minDelay: 1, maxDelay: 10 } },
          onStart: c.hook,
        });
        expect(c.crashes()).toBe(1);
        expect(r.violations).toEqual([]);
        expect(Object.values(r.heights).every((h) => h >= 7)).toBe(true);
      });
    }
  }

  it('a node killed on entering precommit keeps its lock after restart', () => {
    // down long enough that the others move on: the restarted node must resume from its WAL
    const c = crashOnStep('precommit', 'n2', 2, 2_000);
    const r = runCluster({
      seed: 77,
      validators: 4,
      byzantine: 1,
      behaviour: 'equivocate',
      heights: 6,
      plan: NO_FAULTS,
      onStart: c.hook,
    });
    expect(c.crashes()).toBe(1);
    expect(r.violations).toEqual([]);
  });
});
