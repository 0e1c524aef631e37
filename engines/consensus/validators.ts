/**
 * Validator sets and proposer selection.
 *
 * Proposer selection is CometBFT's weighted round-robin: every validator's priority grows by its
 * power each round; the highest priority proposes and pays the total power back. Over a window of
 * rounds each validator proposes in proportion to its power. Priorities are centred and clamped
 * as CometBFT does, so they stay bounded.
 */
import { toHex } from '../../wire/commit.ts';

export interface Validator {
  /** Hex of the ed25519 public key; also the validator's address. */
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly power: number;
}

export interface ValidatorSet {
  readonly validators: readonly Validator[];
  readonly totalPower: number;
  /** id -> index in `validators` (sorted by id, so indices agree across nodes). */
  readonly index: ReadonlyMap<string, number>;
}

export class ValidatorSetError extends Error {}

export function makeValidatorSet(validators: readonly Validator[]): ValidatorSet {
  if (validators.length === 0) throw new ValidatorSetError('a validator set needs at least one validator');
  const sorted = [...validators].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const index = new Map<string, number>();
  let total = 0;
  sorted.forEach((v, i) => {
    if (!Number.isSafeInteger(v.power) || v.power <= 0) {
      throw new ValidatorSetError(
        `validator ${v.id.slice(0, 12)}: power must be a positive integer, got ${v.power}`,
      );
    }
    if (index.has(v.id)) throw new ValidatorSetError(`validator ${v.id.slice(0, 12)} appears twice`);
    index.set(v.id, i);
    total += v.power;
  });
  if (!Number.isSafeInteger(total * 8)) throw new ValidatorSetError('total voting power too large');
  return { validators: sorted, totalPower: total, index };
}

/** Voting power strictly above two thirds: the 2f+1 quorum. */
export function quorum(total: number): number {
  return Math.floor((total * 2) / 3) + 1;
}

/** Voting power strictly above one third: the f+1 threshold (at least one honest). */
export function oneThirdPlus(total: number): number {
  return Math.floor(total / 3) + 1;
}

export type Priorities = readonly number[];

export function initialPriorities(powers: readonly number[]): Priorities {
  return powers.map(() => 0);
}

export function powersOf(set: ValidatorSet): number[] {
  return set.validators.map((v) => v.power);
}

/** One round of weighted round-robin: returns the proposer's index and the next priorities. */
export function advanceProposer(
  powers: readonly number[],
  priorities: Priorities,
): { proposer: number; next: Priorities } {
  const n = powers.length;
  const total = powers.reduce((a, b) => a + b, 0);
  // keep priorities within 2 * totalPower, as CometBFT does, so they cannot drift without bound
  const window = 2 * total;
  let p = [...priorities];
  const spread = Math.max(...p) - Math.min(...p);
  if (spread > window) {
    const ratio = Math.ceil(spread / window);
    p = p.map((x) => Math.trunc(x / ratio));
  }
  const avg = Math.trunc(p.reduce((a, b) => a + b, 0) / n);
  p = p.map((x, i) => x - avg + powers[i]!);
  let best = 0;
  for (let i = 1; i < n; i++) {
    // ties go to the smaller index (ids are sorted), so every node picks the same one
    if (p[i]! > p[best]!) best = i;
  }
  p[best] = p[best]! - total;
  return { proposer: best, next: p };
}

/**
 * The proposer of `round` at a height whose round-0 priorities are `start`. Rounds are
 * independent of history within a height: round r applies r+1 advances from the height's start.
 */
export function proposerForRound(powers: readonly number[], start: Priorities, round: number): number {
  let p = start;
  let proposer = 0;
  for (let r = 0; r <= round; r++) {
    const step = advanceProposer(powers, p);
    proposer = step.proposer;
    p = step.next;
  }
  return proposer;
}

/** Priorities carried into the next height: one advance per height (round 0's), as a rotation. */
export function prioritiesForNextHeight(powers: readonly number[], start: Priorities): Priorities {
  return advanceProposer(powers, start).next;
}

/** A power change for one validator; power 0 removes it. */
export interface PowerChange {
  readonly publicKey: Uint8Array;
  readonly power: number;
}

/**
 * Applies changes to a set. Returns the set unchanged if the result would be empty or a power is
 * not a safe positive integer (the application's mistake must not halt the chain).
 */
export function applyChanges(set: ValidatorSet, changes: readonly PowerChange[]): ValidatorSet {
  const byId = new Map(set.validators.map((v) => [v.id, v]));
  for (const c of changes) {
    const id = toHex(c.publicKey);
    if (c.power === 0) byId.delete(id);
    else if (Number.isSafeInteger(c.power) && c.power > 0)
      byId.set(id, { id, publicKey: c.publicKey, power: c.power });
    else return set;
  }
  if (byId.size === 0) return set;
  try {
    return makeValidatorSet([...byId.values()]);
  } catch {
    return set;
  }
}

export function sameSet(a: ValidatorSet, b: ValidatorSet): boolean {
  return (
    a.validators.length === b.validators.length &&
    a.validators.every((v, i) => v.id === b.validators[i]!.id && v.power === b.validators[i]!.power)
  );
}
