/** fast-check arbitraries for simulator fault plans: generated, and shrunk towards fewer faults. */
import fc from 'fast-check';
import type { ClockSkew, CrashFault, FaultPlan, PartitionFault } from '../runtime/sim/faults.ts';

const pct = (max: number) => fc.integer({ min: 0, max: Math.round(max * 100) }).map((x) => x / 100);

export interface PlanShape {
  nodes: readonly string[];
  /** Faults start within this window (virtual ms). */
  window: number;
  maxPartitions: number;
  maxCrashes: number;
  /** Whether every crashed node comes back (needed for liveness). */
  restart: boolean;
}

export function faultPlanArb(shape: PlanShape): fc.Arbitrary<FaultPlan> {
  const { nodes, window } = shape;
  const links = fc
    .record({
      drop: pct(0.15),
      duplicate: pct(0.1),
      minDelay: fc.integer({ min: 1, max: 5 }),
      extra: fc.integer({ min: 0, max: 60 }),
    })
    .map(({ drop, duplicate, minDelay, extra }) => ({
      drop,
      duplicate,
      minDelay,
      maxDelay: minDelay + extra,
    }));
  const partition: fc.Arbitrary<PartitionFault> = fc
    .record({
      from: fc.integer({ min: 0, max: window }),
      length: fc.integer({ min: 50, max: 2_000 }),
      side: fc.subarray([...nodes], { minLength: 1, maxLength: nodes.length - 1 }),
    })
    .map(({ from, length, side }) => ({
      from,
      until: from + length,
      groups: [side, nodes.filter((n) => !side.includes(n))],
    }));
  const crash: fc.Arbitrary<CrashFault> = fc
    .record({
      node: fc.constantFrom(...nodes),
      at: fc.integer({ min: 0, max: window }),
      down: fc.integer({ min: 10, max: 2_000 }),
    })
    .map(({ node, at, down }) => ({ node, at, restartAt: shape.restart ? at + down : undefined }));
  const skew: fc.Arbitrary<ClockSkew> = fc.record({
    offset: fc.integer({ min: 0, max: 2_000 }),
    rate: fc.integer({ min: 80, max: 125 }).map((x) => x / 100),
  });
  const skews = fc
    .subarray([...nodes])
    .chain((ns) => fc.tuple(...ns.map((n) => skew.map((s) => [n, s] as const))))
    .map((pairs) => Object.fromEntries(pairs));
  return fc.record({
    links,
    partitions: fc.array(partition, { maxLength: shape.maxPartitions }),
    crashes: fc.array(crash, { maxLength: shape.maxCrashes }),
    skews,
  });
}
