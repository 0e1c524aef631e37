/**
 * The chaos harness's perturbation schedule: a list of faults drawn from a seed, run one after
 * another with quiet gaps between them. The first round holds every kind once, in a shuffled
 * order, so that a run long enough for a round (any run of FULL_ROUND_SECONDS or more) exercises
 * every kind; after it come kinds drawn at random until the planned time covers the duration.
 * Pure: the same (seed, duration, validators) gives the same plan.
 */
import { Random, seedState } from '../../runtime/random.ts';

export const PERTURBATION_KINDS = [
  'kill',
  'pause',
  'two-down',
  'partition',
  'slow-links',
  'full-disk',
  'replay',
  'spam',
] as const;
export type PerturbationKind = (typeof PERTURBATION_KINDS)[number];

/** A run this long (seconds) or longer runs the whole first round: every kind at least once. */
export const FULL_ROUND_SECONDS = 300;

export type Perturbation =
  /** kill -9 a validator, restart it after `downMs` */
  | { readonly kind: 'kill'; readonly node: number; readonly downMs: number }
  /** SIGSTOP a validator, SIGCONT after `pausedMs` */
  | { readonly kind: 'pause'; readonly node: number; readonly pausedMs: number }
  /** kill -9 two validators at once, restart both after `downMs` */
  | { readonly kind: 'two-down'; readonly nodes: readonly [number, number]; readonly downMs: number }
  /** every link between `side` and the other validators is cut (closed) or dropped (silent) */
  | {
      readonly kind: 'partition';
      readonly side: readonly number[];
      readonly mode: 'cut' | 'drop';
      readonly forMs: number;
    }
  /** the links of one validator (or, with node null, every link) delay their bytes */
  | {
      readonly kind: 'slow-links';
      readonly node: number | null;
      readonly delayMs: number;
      readonly forMs: number;
    }
  /** the validator's disk fills up: it must stop saying so, and resume once there is room */
  | { readonly kind: 'full-disk'; readonly node: number }
  /** restart a validator (kill -9) and re-submit `count` committed envelopes to it and to others */
  | { readonly kind: 'replay'; readonly node: number; readonly count: number }
  /** `envelopes` from `keys` unfunded keys with huge fees, as fast as the nodes take them */
  | { readonly kind: 'spam'; readonly keys: number; readonly envelopes: number };

export interface PlannedPerturbation {
  readonly index: number;
  /** quiet time before it starts */
  readonly gapMs: number;
  readonly perturbation: Perturbation;
  /** a generous estimate of gap + fault + recovery, for planning */
  readonly nominalMs: number;
  /** part of a whole first round: runs even if the duration is over */
  readonly required: boolean;
}

export interface PlanOptions {
  seed: number;
  /** seconds of perturbation */
  duration: number;
  validators: number;
}

/** Time to restart a process and catch up, on a loaded 2-core machine. */
const RESTART_MS = 8_000;
/** Time to reconnect after a link heals (the dialler's backoff). */
const RECONNECT_MS = 10_000;

const between = (r: Random, lo: number, hi: number) => lo + r.int(hi - lo + 1);

function draw(kind: PerturbationKind, r: Random, n: number): Perturbation {
  const node = () => r.int(n);
  switch (kind) {
    case 'kill':
      return { kind, node: node(), downMs: between(r, 2_000, 8_000) };
    case 'pause':
      return { kind, node: node(), pausedMs: between(r, 2_000, 8_000) };
    case 'two-down': {
      const [a, b] = r.shuffle([...Array(n).keys()]);
      return { kind, nodes: [Math.min(a!, b!), Math.max(a!, b!)], downMs: between(r, 3_000, 8_000) };
    }
    case 'partition': {
      const size = 1 + r.int(Math.floor(n / 2));
      const side = r
        .shuffle([...Array(n).keys()])
        .slice(0, size)
        .sort((x, y) => x - y);
      return { kind, side, mode: r.bool() ? 'cut' : 'drop', forMs: between(r, 3_000, 10_000) };
    }
    case 'slow-links':
      return {
        kind,
        node: r.bool(0.7) ? node() : null,
        delayMs: between(r, 50, 400),
        forMs: between(r, 4_000, 10_000),
      };
    case 'full-disk':
      return { kind, node: node() };
    case 'replay':
      return { kind, node: node(), count: between(r, 30, 80) };
    case 'spam':
      return { kind, keys: between(r, 10, 40), envelopes: between(r, 200, 600) };
  }
}

function nominal(p: Perturbation): number {
  switch (p.kind) {
    case 'kill':
      return p.downMs + RESTART_MS;
    case 'pause':
      return p.pausedMs + 3_000;
    case 'two-down':
      return p.downMs + RESTART_MS + 2_000;
    case 'partition':
      return p.forMs + RECONNECT_MS;
    case 'slow-links':
      return p.forMs + 2_000;
    case 'full-disk':
      return 30_000;
    case 'replay':
      return RESTART_MS;
    case 'spam':
      return 10_000;
  }
}

/** The plan for a run: a first round of every kind, then random kinds, covering `duration`. */
export function planPerturbations(o: PlanOptions): PlannedPerturbation[] {
  if (o.validators < 4) throw new RangeError('chaos needs at least 4 validators (one may fail)');
  const r = new Random(seedState(o.seed, 'chaos/plan'));
  const budget = o.duration * 1000;
  const round = r.shuffle(PERTURBATION_KINDS);
  const plan: PlannedPerturbation[] = [];
  let total = 0;
  const add = (kind: PerturbationKind, required: boolean) => {
    const gapMs = between(r, 2_000, 5_000);
    const perturbation = draw(kind, r, o.validators);
    const nominalMs = gapMs + nominal(perturbation);
    plan.push({ index: plan.length, gapMs, perturbation, nominalMs, required });
    total += nominalMs;
  };
  const whole = o.duration >= FULL_ROUND_SECONDS;
  for (const kind of round) {
    // a short run takes what fits of the first round (at least one)
    if (!whole && plan.length > 0 && total >= budget) break;
    add(kind, whole);
  }
  // then random kinds until the plan covers the duration (the runner stops at the deadline);
  // the estimates are generous, so a whole run plans twice its duration: on a quiet machine
  // recovery is quick, and a plan of just the duration ran out 70 s before a 300 s deadline
  while (total < (whole ? 2 : 1) * budget) add(r.pick(PERTURBATION_KINDS), false);
  return plan;
}

/** The validators whose disk a plan fills (they get their data directory on a small disk). */
export function fullDiskNodes(plan: readonly PlannedPerturbation[]): number[] {
  const nodes = new Set<number>();
  for (const p of plan) if (p.perturbation.kind === 'full-disk') nodes.add(p.perturbation.node);
  return [...nodes].sort((a, b) => a - b);
}

/** One line for the progress output. */
export function describePerturbation(p: Perturbation, names: readonly string[]): string {
  const name = (i: number) => names[i] ?? `v${i}`;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  switch (p.kind) {
    case 'kill':
      return `kill -9 ${name(p.node)}, restart after ${s(p.downMs)}`;
    case 'pause':
      return `pause ${name(p.node)} (SIGSTOP) for ${s(p.pausedMs)}`;
    case 'two-down':
      return `kill -9 ${name(p.nodes[0])} and ${name(p.nodes[1])}, restart both after ${s(p.downMs)}`;
    case 'partition':
      return `partition {${p.side.map(name).join(',')}} from the rest (${p.mode === 'cut' ? 'links cut' : 'bytes dropped'}) for ${s(p.forMs)}`;
    case 'slow-links':
      return `delay ${p.node === null ? 'every link' : `${name(p.node)}'s links`} by ${p.delayMs} ms for ${s(p.forMs)}`;
    case 'full-disk':
      return `fill ${name(p.node)}'s disk`;
    case 'replay':
      return `restart ${name(p.node)} and replay ${p.count} committed envelopes to it and the others`;
    case 'spam':
      return `spam ${p.envelopes} envelopes with huge fees from ${p.keys} unfunded keys`;
  }
}
