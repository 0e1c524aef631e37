/**
 * Vote keeping, apart from the round state machine (as Malachite separates them).
 *
 * Counts prevotes and precommits of one height by voting power, per round, type and value, and
 * answers the threshold questions of the Tendermint rules: 2f+1 for any value, for nil, for a
 * value; f+1 of any message in a round (the round-skip rule).
 *
 * A second, different vote from one validator for the same round and type is equivocation and
 * becomes evidence. As in the paper ("2f+1 <PREVOTE, h, r, id(v)>" from distinct senders), the
 * equivocator's signed vote still counts toward the value it names, while the "any value" tally
 * counts each validator once. That is safe (quorum intersection rests on honest voters only) and
 * needed for liveness: otherwise a proof of lock that includes an equivocator's vote can stay
 * invisible to nodes that heard its other vote first. At most MAX_VALUES_PER_VALIDATOR values are
 * counted per validator, round and type, so memory stays bounded.
 *
 * The keeper is immutable plain data (it lives in an XState context that the supervisor may
 * restore from a snapshot): `addVote` returns a new keeper sharing untouched rounds.
 */
import { oneThirdPlus, quorum } from './validators.ts';

export type VoteType = 'prevote' | 'precommit';
/** A block id (hex), or null for nil. */
export type ValueId = string | null;

export interface KeptVote<S = unknown> {
  readonly type: VoteType;
  readonly round: number;
  readonly validator: number;
  readonly value: ValueId;
  /** The signed message, kept for certificates and evidence. */
  readonly signed: S;
}

export interface Equivocation<S = unknown> {
  readonly first: KeptVote<S>;
  readonly second: KeptVote<S>;
}

interface VoteList {
  readonly vote: KeptVote;
  readonly next: VoteList | null;
}

/** Who has a vote counted, one bit per validator index (a bigint: immutable, as a context must be). */
type Bits = bigint;

const hasBit = (bits: Bits, i: number): boolean => ((bits >> BigInt(i)) & 1n) === 1n;
const withBit = (bits: Bits, i: number): Bits => bits | (1n << BigInt(i));

/** The votes counted for one value: who cast them (for duplicates), and the votes, newest first. */
interface ValueVotes {
  readonly voters: Bits;
  readonly votes: VoteList | null;
}

/**
 * One round's votes of one type. Adding a vote sets two bits and copies the small per-value
 * records (a round sees one or two values), not every vote counted before: with n validators a
 * height's votes no longer cost O(n²) object copies.
 */
interface Tally {
  /** Validators with a vote counted (their first): counted once toward `total`. */
  readonly voted: Bits;
  /** Each validator's first vote, newest first: the first half of any evidence (looked up rarely). */
  readonly firsts: VoteList | null;
  /** Votes per value key (NIL_KEY for nil), one per validator. */
  readonly byValue: Readonly<Record<string, ValueVotes>>;
  /** power per value key */
  readonly power: Readonly<Record<string, number>>;
  /** power of distinct validators heard */
  readonly total: number;
}

export const MAX_VALUES_PER_VALIDATOR = 3;

interface RoundVotes {
  readonly prevote: Tally;
  readonly precommit: Tally;
  /** validators heard from in this round (any type), and their power: the f+1 skip rule */
  readonly senders: Bits;
  readonly senderPower: number;
}

export interface VoteKeeper {
  readonly powers: readonly number[];
  readonly totalPower: number;
  /**
   * By round (undefined: nothing counted there). An array, not a record keyed by round: V8 copies
   * a record with integer keys, frozen, at several times the cost, and one is copied per vote.
   */
  readonly rounds: readonly (RoundVotes | undefined)[];
}

export type AddOutcome = 'added' | 'duplicate' | 'equivocation' | 'unknown-validator' | 'round-out-of-range';

/**
 * Rounds are kept in an array indexed by round: a vote of a round past this is not kept (the
 * engine drops votes far ahead of its round long before; this bounds the array whatever comes).
 */
export const MAX_KEPT_ROUND = 100_000;

const NIL_KEY = '\u0000nil';
const keyOf = (v: ValueId): string => (v === null ? NIL_KEY : v);
const NO_BITS: Bits = 0n;
const EMPTY_TALLY: Tally = { voted: NO_BITS, firsts: null, byValue: {}, power: {}, total: 0 };
const EMPTY_ROUND: RoundVotes = {
  prevote: EMPTY_TALLY,
  precommit: EMPTY_TALLY,
  senders: NO_BITS,
  senderPower: 0,
};

/**
 * `list` with `item` at `index` (a packed copy, the indices between left undefined): the
 * round-indexed arrays of the keeper and the round state, copied element by element (V8 copies a
 * frozen array with `slice` or a spread on its slow path).
 */
export function withAt<T>(list: readonly (T | undefined)[], index: number, item: T): (T | undefined)[] {
  const next: (T | undefined)[] = [];
  for (let i = 0; i < list.length; i++) next.push(list[i]);
  while (next.length <= index) next.push(undefined);
  next[index] = item;
  return next;
}

function findIn(list: VoteList | null, validator: number): KeptVote | undefined {
  for (let l = list; l !== null; l = l.next) if (l.vote.validator === validator) return l.vote;
  return undefined;
}

/** How many values `validator` has a vote counted for (it has one at least). */
function valuesCounted(tally: Tally, validator: number): number {
  let n = 0;
  for (const key in tally.byValue) if (hasBit(tally.byValue[key]!.voters, validator)) n++;
  return n;
}

export function newVoteKeeper(powers: readonly number[]): VoteKeeper {
  return { powers: [...powers], totalPower: powers.reduce((a, b) => a + b, 0), rounds: [] };
}

export function addVote<S>(
  keeper: VoteKeeper,
  vote: KeptVote<S>,
): { keeper: VoteKeeper; outcome: AddOutcome; evidence?: Equivocation<S> } {
  const power = keeper.powers[vote.validator];
  if (power === undefined) return { keeper, outcome: 'unknown-validator' };
  if (!Number.isInteger(vote.round) || vote.round < 0 || vote.round > MAX_KEPT_ROUND)
    return { keeper, outcome: 'round-out-of-range' };
  const round = keeper.rounds[vote.round] ?? EMPTY_ROUND;
  const tally = round[vote.type];
  const key = keyOf(vote.value);
  const forValue = tally.byValue[key];
  if (forValue !== undefined && hasBit(forValue.voters, vote.validator))
    return { keeper, outcome: 'duplicate' };
  const first = hasBit(tally.voted, vote.validator)
    ? (findIn(tally.firsts, vote.validator) as KeptVote<S>)
    : undefined;
  if (first !== undefined && valuesCounted(tally, vote.validator) >= MAX_VALUES_PER_VALIDATOR) {
    return { keeper, outcome: 'equivocation', evidence: { first, second: vote } };
  }
  const nextValue: ValueVotes = {
    voters: withBit(forValue?.voters ?? NO_BITS, vote.validator),
    votes: { vote, next: forValue?.votes ?? null },
  };
  const nextTally: Tally = {
    voted: first === undefined ? withBit(tally.voted, vote.validator) : tally.voted,
    firsts: first === undefined ? { vote, next: tally.firsts } : tally.firsts,
    byValue: { ...tally.byValue, [key]: nextValue },
    power: { ...tally.power, [key]: (tally.power[key] ?? 0) + power },
    total: first === undefined ? tally.total + power : tally.total,
  };
  const isNewSender = !hasBit(round.senders, vote.validator);
  // literals, not spreads (with a computed key): the copies a vote costs stay on V8's fast path
  const nextRound: RoundVotes = {
    prevote: vote.type === 'prevote' ? nextTally : round.prevote,
    precommit: vote.type === 'precommit' ? nextTally : round.precommit,
    senders: isNewSender ? withBit(round.senders, vote.validator) : round.senders,
    senderPower: isNewSender ? round.senderPower + power : round.senderPower,
  };
  const next: VoteKeeper = {
    powers: keeper.powers,
    totalPower: keeper.totalPower,
    rounds: withAt(keeper.rounds, vote.round, nextRound),
  };
  if (first !== undefined)
    return { keeper: next, outcome: 'equivocation', evidence: { first, second: vote } };
  return { keeper: next, outcome: 'added' };
}

function tallyOf(k: VoteKeeper, round: number, type: VoteType): Tally {
  return k.rounds[round]?.[type] ?? EMPTY_TALLY;
}

/** The vote `validator` cast for `value` in `round` that the keeper counted, if any. */
export function heldVote<S>(
  k: VoteKeeper,
  round: number,
  type: VoteType,
  validator: number,
  value: ValueId,
): KeptVote<S> | undefined {
  const forValue = tallyOf(k, round, type).byValue[keyOf(value)];
  if (forValue === undefined || !hasBit(forValue.voters, validator)) return undefined;
  return findIn(forValue.votes, validator) as KeptVote<S> | undefined;
}

/** 2f+1 votes of `type` in `round`, for any mix of values (nil included). */
export function hasQuorumAny(k: VoteKeeper, round: number, type: VoteType): boolean {
  return tallyOf(k, round, type).total >= quorum(k.totalPower);
}

/** 2f+1 votes of `type` in `round` for exactly `value` (null = nil). */
export function hasQuorumFor(k: VoteKeeper, round: number, type: VoteType, value: ValueId): boolean {
  return (tallyOf(k, round, type).power[keyOf(value)] ?? 0) >= quorum(k.totalPower);
}

/** The value (not nil) with 2f+1 votes of `type` in `round`, if any. */
export function quorumValue(k: VoteKeeper, round: number, type: VoteType): string | undefined {
  const t = tallyOf(k, round, type);
  const q = quorum(k.totalPower);
  for (const [key, p] of Object.entries(t.power)) if (key !== NIL_KEY && p >= q) return key;
  return undefined;
}

/** f+1 voting power has sent some message in `round` (the round-skip rule). */
export function hasSkipThreshold(k: VoteKeeper, round: number): boolean {
  return (k.rounds[round]?.senderPower ?? 0) >= oneThirdPlus(k.totalPower);
}

/** The lowest round above `round` in which f+1 power has spoken (line 55), if any. */
export function lowestSkipRoundAbove(k: VoteKeeper, round: number): number | undefined {
  for (let r = Math.max(0, round + 1); r < k.rounds.length; r++) if (hasSkipThreshold(k, r)) return r;
  return undefined;
}

/** The votes of `type` for `value` in `round` (e.g. the precommits of a commit certificate). */
export function votesFor<S>(k: VoteKeeper, round: number, type: VoteType, value: ValueId): KeptVote<S>[] {
  const out: KeptVote<S>[] = [];
  for (let l = tallyOf(k, round, type).byValue[keyOf(value)]?.votes ?? null; l !== null; l = l.next)
    out.push(l.vote as KeptVote<S>);
  return out.sort((a, b) => a.validator - b.validator);
}

/** Rounds in which anything was counted. */
export function roundsSeen(k: VoteKeeper): number[] {
  const seen: number[] = [];
  for (let r = 0; r < k.rounds.length; r++) if (k.rounds[r] !== undefined) seen.push(r);
  return seen;
}
