/**
 * Twins (Bano, Sonnino, Chursin, Perelman, Li, Ching, Malkhi: "Twins: BFT Systems Made Robust",
 * 2021), for 4 validators: the Byzantine validator runs as two nodes on one key, and each
 * scenario fixes, per round, a partition of the five nodes into two groups that the round's
 * votes and proposals stay within. Rounds 0 and 1 of every height are partitioned as the
 * scenario says, later rounds are not, until stabilisation (3 s), after which every message gets
 * through (Tendermint's liveness needs eventual delivery: a round whose messages stay split for
 * ever can leave no quorum of any kind, and no timeout to move on). The leaders come from the
 * proposer rotation, which moves on every height, so each height of a run puts another leader in
 * front of the same partitions.
 *
 * The scenarios are enumerated (16 partitions per round, 256 in all); CI runs an evenly spread
 * sample whose offset comes from the seed, `npm run props -- --runs 256` (or more) runs them all.
 * Every invariant must hold in every scenario, liveness included.
 */
import { describe, expect, it } from 'vitest';
import { runCluster } from '../sim/cluster.ts';
import { NO_FAULTS } from '../sim/faults.ts';
import { DEFAULT_SEED, requestedRuns } from './config.ts';

const NODES = ['n0', 'n1', 'n2', 'n3', 'n3-twin'] as const;
const PARTITIONED_ROUNDS = 2;
/** Stabilisation: from here on every message gets through (re-sent by gossip if it was dropped). */
const PARTITIONED_UNTIL_MS = 3_000;

/** The 16 two-group partitions of the five nodes (n0's group named by who joins it); 15 = none. */
function partitionOf(mask: number): readonly (readonly string[])[] | undefined {
  if (mask === 15) return undefined;
  const others = NODES.slice(1);
  const withN0 = ['n0', ...others.filter((_, i) => (mask >> i) & 1)];
  return [withN0, NODES.filter((n) => !withN0.includes(n))];
}

const describeGroups = (g: readonly (readonly string[])[] | undefined) =>
  g === undefined ? 'whole' : g.map((x) => `{${x.join(',')}}`).join(' | ');

const SCENARIOS = 16 ** PARTITIONED_ROUNDS;

/** Which scenarios this run covers: all when asked for as many runs, else an even sample. */
function scenarioIndices(): number[] {
  const wanted = Math.min(SCENARIOS, requestedRuns() ?? 32);
  const seed = Number(process.env.FRACTAL_PROPS_SEED ?? DEFAULT_SEED);
  const stride = SCENARIOS / wanted;
  const offset = seed % Math.max(1, Math.floor(stride));
  return Array.from({ length: wanted }, (_, i) => (Math.floor(i * stride) + offset) % SCENARIOS);
}

describe('Twins: 4 validators, one of them twinned, every partition of rounds 0 and 1', () => {
  const indices = scenarioIndices();
  console.log(`props: consensus.twins scenarios=${indices.length} of ${SCENARIOS}`);
  it(`agreement, validity, justified votes, no double signing and liveness in ${indices.length} scenarios`, () => {
    const failures: string[] = [];
    for (const index of indices) {
      const masks = [index % 16, Math.floor(index / 16) % 16];
      const partitions = masks.map(partitionOf);
      const r = runCluster({
        seed: index,
        validators: 4,
        byzantine: 1,
        behaviour: 'twins',
        heights: 4,
        plan: { ...NO_FAULTS, links: { drop: 0, duplicate: 0, minDelay: 1, maxDelay: 5 } },
        roundPartitions: {
          until: PARTITIONED_UNTIL_MS,
          groups: (_height, round) => (round < PARTITIONED_ROUNDS ? partitions[round] : undefined),
        },
        livenessPerHeightMs: 4_000,
        trace: false,
      });
      if (r.violations.length > 0) {
        failures.push(
          `scenario ${index} (round 0: ${describeGroups(partitions[0])}; round 1: ${describeGroups(partitions[1])}): ` +
            r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('; '),
        );
      }
      for (const id of ['n0', 'n1', 'n2']) {
        if ((r.heights[id] ?? 0) < 4)
          failures.push(`scenario ${index}: ${id} reached only height ${r.heights[id]}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
