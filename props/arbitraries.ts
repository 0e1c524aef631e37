/** fast-check arbitraries for simulator fault plans: generated, and shrunk towards fewer faults. */
import fc from 'fast-check';
import type {
  ClockSkew,
  CrashFault,
  FaultPlan,
  PartitionFault,
  PersistedWrite,
  StorageFault,
  WriteCrash,
} from '../sim/faults.ts';

const pct = (max: number) => fc.integer({ min: 0, max: Math.round(max * 100) }).map((x) => x / 100);

export interface PlanShape {
  nodes: readonly string[];
  /** Faults start within this window (virtual ms). */
  window: number;
  maxPartitions: number;
  maxCrashes: number;
  /** Whether every crashed node comes back (needed for liveness). */
  restart: boolean;
  /** Kills at a signature, a committed block or an app root (they always restart); default none. */
  maxWriteCrashes?: number;
  /**
   * Storage faults (torn batches, lost writes, flipped bits; they always restart); default none,
   * and without them the plans drawn are exactly those drawn before storage faults existed.
   */
  maxStorageFaults?: number;
  /** Which storage faults to draw (every kind by default). */
  storageFaults?: StorageFaultShape;
}

/** What storage faults `storageFaultArb` draws. */
export interface StorageFaultShape {
  kinds?: readonly StorageFault['kind'][];
  /** lost-writes: how writes are synced ('send', or every n writes for n in 1..this); default 'send' only */
  maxSyncEvery?: number;
  /** lost-writes: also lose any subset of the unsynced writes, not only a suffix */
  anyOrder?: boolean;
  /** corrupt: draw stores without checksums too */
  unchecked?: boolean;
}

/** Storage faults at one of `nodes` (sim/faults.ts StorageFault), at its 1st to 24th matching write. */
export function storageFaultArb(
  nodes: readonly string[],
  shape: StorageFaultShape = {},
): fc.Arbitrary<StorageFault> {
  const kinds = shape.kinds ?? (['torn-write', 'lost-writes', 'corrupt'] as const);
  const sync: fc.Arbitrary<'send' | number> =
    shape.maxSyncEvery === undefined
      ? fc.constant('send' as const)
      : fc.oneof(fc.constant('send' as const), fc.integer({ min: 1, max: shape.maxSyncEvery }));
  return fc
    .record({
      kind: fc.constantFrom(...kinds),
      node: fc.constantFrom(...nodes),
      at: fc.integer({ min: 1, max: 24 }),
      write: fc.constantFrom<PersistedWrite | undefined>(
        undefined,
        'signature',
        'prevote',
        'precommit',
        'block',
        'root',
      ),
      down: fc.integer({ min: 10, max: 2_000 }),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      sync,
      order:
        shape.anyOrder === true
          ? fc.constantFrom('suffix' as const, 'any' as const)
          : fc.constant('suffix' as const),
      checksums: shape.unchecked === true ? fc.boolean() : fc.constant(true),
    })
    .map(({ kind, node, at, write, down, seed, sync, order, checksums }): StorageFault => {
      // a torn batch: consensus's only batch is a commit (its first key the block)
      const base = { kind, node, at, down, seed };
      const w =
        kind === 'torn-write'
          ? write === undefined
            ? {}
            : { write: 'block' as const }
          : write === undefined
            ? {}
            : { write };
      if (kind === 'lost-writes') return { ...base, ...w, sync, order };
      if (kind === 'corrupt') return { ...base, ...w, checksums };
      return { ...base, ...w };
    });
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
  const writeCrash: fc.Arbitrary<WriteCrash> = fc.record({
    node: fc.constantFrom(...nodes),
    // signatures are the points that matter most (three or four per height per validator)
    write: fc.constantFrom<WriteCrash['write']>('signature', 'signature', 'signature', 'block', 'root'),
    nth: fc.integer({ min: 1, max: 16 }),
    point: fc.constantFrom<WriteCrash['point']>('before-write', 'after-write', 'after-send'),
    down: fc.integer({ min: 10, max: 2_000 }),
    clockJump: fc.integer({ min: -3_000, max: 10_000 }),
  });
  const base = {
    links,
    partitions: fc.array(partition, { maxLength: shape.maxPartitions }),
    crashes: fc.array(crash, { maxLength: shape.maxCrashes }),
    skews,
    writeCrashes: fc.array(writeCrash, { maxLength: shape.maxWriteCrashes ?? 0 }),
  };
  const maxStorageFaults = shape.maxStorageFaults ?? 0;
  // only with storage faults asked for: the record's shape is what decides every draw
  if (maxStorageFaults === 0) return fc.record(base);
  return fc.record({
    ...base,
    storageFaults: fc.array(storageFaultArb(nodes, shape.storageFaults), { maxLength: maxStorageFaults }),
  });
}

/** A generated genesis validator set for the simulated cluster. */
export interface GeneratedValidators {
  /** how the powers were drawn: shown with a failure, and checked for coverage */
  kind: 'equal' | 'random' | 'just-under-third' | 'count-not-power';
  /** voting power of n0, n1, … */
  powers: number[];
  /** how many of the last validators are Byzantine; together they hold less than 1/3 of the power */
  byzantine: number;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** Lowers the largest values (never below 1) until the sum is at most `cap` (cap >= length). */
function capSum(values: number[], cap: number): number[] {
  const out = [...values];
  let total = sum(out);
  while (total > cap) {
    const i = out.indexOf(Math.max(...out));
    const cut = Math.min(out[i]! - 1, total - cap);
    out[i] = out[i]! - cut;
    total -= cut;
  }
  return out;
}

/** The most power the Byzantine validators may hold next to `honest`: 3 * byzantine < total. */
const byzantineCap = (honest: number) => Math.ceil(honest / 2) - 1;

/**
 * Validator sets of 4 to 10 validators, with at least one Byzantine validator and the Byzantine
 * ones holding less than a third of the power (so every safety and liveness guarantee is owed):
 * equal powers with f Byzantine of 3f+1 (or fewer); random powers; one Byzantine validator with
 * the largest power that is still below a third; and sets where 2f+1 validators by count hold at
 * most two thirds of the power (heavy honest validators, light ones elsewhere), so a threshold
 * counted in validators instead of power is caught.
 */
export function validatorSetArb(maxValidators = 10): fc.Arbitrary<GeneratedValidators> {
  const count = fc.integer({ min: 4, max: maxValidators });
  const maxFaulty = (n: number) => Math.floor((n - 1) / 3);
  const equal = count.chain((n) =>
    fc.integer({ min: 1, max: maxFaulty(n) }).map(
      (byzantine): GeneratedValidators => ({
        kind: 'equal',
        powers: new Array<number>(n).fill(1),
        byzantine,
      }),
    ),
  );
  const random = count.chain((n) =>
    fc.integer({ min: 1, max: maxFaulty(n) }).chain((k) =>
      fc
        .tuple(
          fc.array(fc.integer({ min: 1, max: 20 }), { minLength: n - k, maxLength: n - k }),
          fc.array(fc.integer({ min: 1, max: 20 }), { minLength: k, maxLength: k }),
        )
        .map(
          ([honest, faulty]): GeneratedValidators => ({
            kind: 'random',
            // n - k >= 2k + 1 honest validators of power >= 1, so the cap leaves each faulty one >= 1
            powers: [...honest, ...capSum(faulty, byzantineCap(sum(honest)))],
            byzantine: k,
          }),
        ),
    ),
  );
  const justUnderThird = count.chain((n) =>
    fc.array(fc.integer({ min: 1, max: 20 }), { minLength: n - 1, maxLength: n - 1 }).map(
      (honest): GeneratedValidators => ({
        kind: 'just-under-third',
        powers: [...honest, byzantineCap(sum(honest))],
        byzantine: 1,
      }),
    ),
  );
  const countNotPower = count.chain((n) => {
    const f = maxFaulty(n);
    const heavy = n - (2 * f + 1);
    // 2f+1 validators of power 1 hold at most 2/3 when the heavy ones hold at least (2f+1)/2
    const minWeight = Math.ceil((2 * f + 1) / (2 * heavy));
    return fc.tuple(fc.integer({ min: minWeight, max: minWeight + 10 }), fc.integer({ min: 1, max: f })).map(
      ([weight, byzantine]): GeneratedValidators => ({
        kind: 'count-not-power',
        powers: [...new Array<number>(heavy).fill(weight), ...new Array<number>(2 * f + 1).fill(1)],
        byzantine,
      }),
    );
  });
  return fc.oneof(equal, random, justUnderThird, countNotPower);
}

/** The node ids of a generated set: n0 … n<count-1>. */
export const nodeIds = (v: { powers: readonly number[] }): string[] => v.powers.map((_, i) => `n${i}`);

/** A validator set whose Byzantine validators can fork it: their twins split across a partition. */
export interface ForkableValidators {
  /** voting power of n0, n1, … */
  powers: number[];
  /** how many of the last validators are Byzantine (more than 1/3 of the power) */
  byzantine: number;
  /** the two sides of the partition: honest validators and either the Byzantine nodes or their twins */
  sides: [string[], string[]];
}

/**
 * 4 to `maxValidators` validators, the honest ones split in two sides and the Byzantine ones
 * (run as twins, one on each side) holding just enough power that each side has more than 2/3:
 * with honest power h1 and h2 on the sides, Byzantine power b > max(2 h2 - h1, 2 h1 - h2), which
 * is also more than a third of the total.
 */
export function forkableSetArb(maxValidators = 10): fc.Arbitrary<ForkableValidators> {
  return fc.integer({ min: 4, max: maxValidators }).chain((n) =>
    fc.integer({ min: 1, max: n - 2 }).chain((k) =>
      fc
        .tuple(
          fc.array(fc.integer({ min: 1, max: 10 }), { minLength: n - k, maxLength: n - k }),
          fc.array(fc.boolean(), { minLength: n - k, maxLength: n - k }),
          fc.integer({ min: 0, max: 3 }),
        )
        .map(([honest, onFirstSide, extra]): ForkableValidators => {
          // at least one honest validator on each side
          const first = honest.map((_, i) => (i === 0 ? true : i === 1 ? false : onFirstSide[i]!));
          const h1 = sum(honest.filter((_, i) => first[i]));
          const h2 = sum(honest) - h1;
          const b = Math.max(k, Math.max(2 * h2 - h1, 2 * h1 - h2) + 1) + extra;
          const faulty = Array.from({ length: k }, (_, i) => Math.floor(b / k) + (i < b % k ? 1 : 0));
          const ids = honest.map((_, i) => `n${i}`);
          const byzantineIds = faulty.map((_, i) => `n${n - k + i}`);
          return {
            powers: [...honest, ...faulty],
            byzantine: k,
            sides: [
              [...ids.filter((_, i) => first[i]), ...byzantineIds],
              [...ids.filter((_, i) => !first[i]), ...byzantineIds.map((id) => `${id}-twin`)],
            ],
          };
        }),
    ),
  );
}
