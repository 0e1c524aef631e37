/**
 * The solver engine's pure core: the intents it holds, when a batch is due, and which intents a
 * batch may use. What a batch *is* (matching, prices, the settlement transaction) is the
 * application's solver algorithm (seed 001: an application is intent formats, predicates and a
 * solver algorithm), handed in as a function, deterministic like everything under engines/.
 *
 * An intent used by a submitted solution is held back ("in flight") until the chain spends it
 * (it leaves through `gone` or `chain`) or `retryAfter` heights pass without that (the solution
 * lost a race to another solver or was refused), then offered again. Expired intents leave when
 * the chain reaches their expiry.
 */
import { toHex } from '../../wire/commit.ts';
import type { DeliveredIntent } from '../../wire/intent.ts';

export interface SolverConfig {
  /** a batch at least every this many heights while intents wait */
  readonly batchEvery: number;
  /** or as soon as this many intents wait */
  readonly batchSize: number;
  /** intents held at most; more are refused until some leave */
  readonly maxIntents: number;
  /** heights an intent used by a solution stays held back */
  readonly retryAfter: number;
}

export const DEFAULT_SOLVER_CONFIG: SolverConfig = {
  batchEvery: 2,
  batchSize: 256,
  maxIntents: 10_000,
  retryAfter: 4,
};

/** What the application's solver returns for a batch: a transaction and the intents it uses. */
export interface BatchSolution {
  readonly tx: Uint8Array;
  readonly used: readonly Uint8Array[];
}

/** The application's solver: deterministic, given the batch (in id order) and the chain height. */
export type SolveBatch = (batch: readonly DeliveredIntent[], height: bigint) => BatchSolution | undefined;

export interface SolverState {
  readonly config: SolverConfig;
  /** the chain's height, as last reported */
  readonly height: bigint;
  /** held intents by hex id */
  readonly intents: Readonly<Record<string, DeliveredIntent>>;
  readonly count: number;
  /** hex id -> the height from which an intent in flight is offered again */
  readonly inFlight: Readonly<Record<string, bigint>>;
  /** the height of the last batch */
  readonly lastBatch: bigint;
  readonly batches: number;
  /** the last solutions, newest last (for the visualiser): what each batch matched */
  readonly recent: readonly SolvedBatch[];
}

/** A batch that found a solution: its number, height, and the topics of the intents it used, in order. */
export interface SolvedBatch {
  readonly batch: number;
  readonly height: bigint;
  readonly ids: readonly string[];
  readonly topics: readonly string[];
}

/** Solutions `recent` keeps. */
export const RECENT_SOLUTIONS = 8;

export function initialSolverState(config: Partial<SolverConfig> = {}): SolverState {
  return {
    config: { ...DEFAULT_SOLVER_CONFIG, ...config },
    height: 0n,
    intents: {},
    count: 0,
    inFlight: {},
    lastBatch: 0n,
    batches: 0,
    recent: [],
  };
}

/** Why an intent is not taken, or undefined when it is. */
export function refusal(s: SolverState, intent: DeliveredIntent): string | undefined {
  if (intent.body.expiry <= s.height) return 'expired';
  if (s.intents[toHex(intent.id)] !== undefined) return 'held already';
  if (s.count >= s.config.maxIntents) return 'full';
  return undefined;
}

export function holdIntent(s: SolverState, intent: DeliveredIntent): SolverState {
  if (refusal(s, intent) !== undefined) return s;
  return { ...s, intents: { ...s.intents, [toHex(intent.id)]: intent }, count: s.count + 1 };
}

/** Forgets intents by id (they settled, expired or were evicted upstream). */
export function forget(s: SolverState, ids: readonly Uint8Array[]): SolverState {
  const gone = ids.map(toHex).filter((k) => s.intents[k] !== undefined || s.inFlight[k] !== undefined);
  if (gone.length === 0) return s;
  const intents = { ...s.intents };
  const inFlight = { ...s.inFlight };
  let count = s.count;
  for (const k of gone) {
    if (intents[k] !== undefined) count--;
    delete intents[k];
    delete inFlight[k];
  }
  return { ...s, intents, inFlight, count };
}

/**
 * The chain reached `height`, spending `spent` (note ids or nullifiers): intents that expired or
 * whose inputs were spent leave, and intents in flight long enough are offered again.
 */
export function advance(s: SolverState, height: bigint, spent: readonly Uint8Array[]): SolverState {
  if (height < s.height) return s;
  const spentKeys = new Set(spent.map(toHex));
  const leaving = Object.values(s.intents)
    .filter((i) => i.body.expiry <= height || i.body.inputs.some((n) => spentKeys.has(toHex(n))))
    .map((i) => i.id);
  const after = forget({ ...s, height }, leaving);
  const released = Object.entries(after.inFlight).filter(([, at]) => at <= height);
  if (released.length === 0) return after;
  const inFlight = { ...after.inFlight };
  for (const [k] of released) delete inFlight[k];
  return { ...after, inFlight };
}

/** Held intents a batch may use: not in flight, in id order (a batch is the same on every replay). */
export function candidates(s: SolverState): DeliveredIntent[] {
  return Object.keys(s.intents)
    .filter((k) => s.inFlight[k] === undefined)
    .sort()
    .map((k) => s.intents[k]!);
}

/** Whether a batch is due: intents wait and `batchEvery` heights passed, or `batchSize` wait. */
export function batchDue(s: SolverState): boolean {
  // every intent in flight is held (forget removes both), so the rest are the candidates: no list
  // built and sorted on every input only to be counted
  const waiting = s.count - Object.keys(s.inFlight).length;
  if (waiting === 0) return false;
  return waiting >= s.config.batchSize || s.height - s.lastBatch >= BigInt(s.config.batchEvery);
}

/** After a batch: the intents its solution used are held back; the batch is counted. */
export function afterBatch(s: SolverState, used: readonly Uint8Array[]): SolverState {
  const inFlight = { ...s.inFlight };
  const until = s.height + BigInt(s.config.retryAfter);
  for (const id of used) {
    const k = toHex(id);
    if (s.intents[k] !== undefined) inFlight[k] = until;
  }
  const recent =
    used.length === 0
      ? s.recent
      : [
          ...s.recent,
          {
            batch: s.batches + 1,
            height: s.height,
            ids: used.map(toHex),
            topics: used.map((id) => s.intents[toHex(id)]?.body.topic ?? ''),
          },
        ].slice(-RECENT_SOLUTIONS);
  return { ...s, inFlight, lastBatch: s.height, batches: s.batches + 1, recent };
}
