/**
 * Random fault plans from a seed, for `fractal sim`: the same (seed, nodes, intensity) gives the
 * same plan. Property tests generate plans with fast-check instead, so they can shrink them.
 * Heavy plans also hold a storage fault at one node (a torn batch, a power loss losing unsynced
 * writes, or a flipped bit in a checksummed record), drawn after everything else so that the
 * rest of a plan is what it was before storage faults existed.
 */
import { Random } from '../runtime/random.ts';
import type { CrashFault, FaultPlan, PartitionFault, StorageFault } from './faults.ts';

export type Intensity = 'none' | 'light' | 'heavy';

const round2 = (x: number) => Math.round(x * 100) / 100;

export function randomFaultPlan(
  seed: number,
  nodes: readonly string[],
  intensity: Intensity,
  horizonMs: number,
): FaultPlan {
  const r = new Random(`plan:${seed}:${intensity}`);
  if (intensity === 'none') {
    return {
      links: { drop: 0, duplicate: 0, minDelay: 1, maxDelay: 5 },
      partitions: [],
      crashes: [],
      skews: {},
    };
  }
  const heavy = intensity === 'heavy';
  const links = {
    drop: round2(r.float() * (heavy ? 0.15 : 0.05)),
    duplicate: round2(r.float() * (heavy ? 0.1 : 0.03)),
    minDelay: 1 + r.int(5),
    maxDelay: 10 + r.int(heavy ? 60 : 20),
  };
  const partitions: PartitionFault[] = [];
  const crashes: CrashFault[] = [];
  const window = Math.max(1000, horizonMs / 2);
  const count = heavy ? 1 + r.int(3) : r.int(2);
  for (let i = 0; i < count; i++) {
    const from = r.int(window);
    const shuffled = r.shuffle(nodes);
    const cut = 1 + r.int(Math.max(1, nodes.length - 1));
    partitions.push({
      from,
      until: from + 200 + r.int(heavy ? 2000 : 800),
      groups: [shuffled.slice(0, cut), shuffled.slice(cut)],
    });
  }
  const crashCount = heavy ? 1 + r.int(2) : r.int(2);
  for (let i = 0; i < crashCount; i++) {
    const at = r.int(window);
    crashes.push({ node: r.pick(nodes), at, restartAt: at + 100 + r.int(heavy ? 2000 : 800) });
  }
  const skews: Record<string, { offset: number; rate: number }> = {};
  for (const n of nodes) {
    if (r.bool(heavy ? 0.5 : 0.2)) skews[n] = { offset: r.int(2001), rate: round2(0.8 + r.float() * 0.4) };
  }
  if (!heavy) return { links, partitions, crashes, skews };
  const storageFaults: StorageFault[] = [];
  if (r.bool(0.5)) {
    const kind = r.pick(['torn-write', 'lost-writes', 'corrupt'] as const);
    storageFaults.push({
      kind,
      node: r.pick(nodes),
      at: 1 + r.int(24),
      down: 100 + r.int(2000),
      seed: r.int(2 ** 31),
    });
  }
  return { links, partitions, crashes, skews, storageFaults };
}
