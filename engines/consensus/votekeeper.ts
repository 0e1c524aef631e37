/**
 * Vote keeping, apart from the round state machine (as Malachite separates them).
 *
 * Counts prevotes and precommits of one height by voting power, per round, type and value, and
 * answers the threshold questions of the Tendermint rules: 2f+1 for any value, for nil, for a
 * value; f+1 of any message in a round (the round-skip rule). A second, different vote from one
 * validator for the same round and type is equivocation: it is not counted, it becomes evidence.
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

interface Tally {
  readonly votes: Readonly<Record<number, KeptVote>>;
  /** power per value key (NIL_KEY for nil) */
  readonly power: Readonly<Record<string, number>>;
  readonly total: number;
}

interface RoundVotes {
  readonly prevote: Tally;
  readonly precommit: Tally;
  /** validators heard from in this round (any type), and their power: the f+1 skip rule */
  readonly senders: Readonly<Record<number, true>>;
  readonly senderPower: number;
}

export interface VoteKeeper {
  readonly powers: readonly number[];
  readonly totalPower: number;
  readonly rounds: Readonly<Record<number, RoundVotes>>;
}

export type AddOutcome = 'added' | 'duplicate' | 'equivocation' | 'unknown-validator';

const NIL_KEY = '\u0000nil';
const keyOf = (v: ValueId): string => (v === null ? NIL_KEY : v);
const EMPTY_TALLY: Tally = { votes: {}, power: {}, total: 0 };
const EMPTY_ROUND: RoundVotes = { prevote: EMPTY_TALLY, precommit: EMPTY_TALLY, senders: {}, senderPower: 0 };

export function newVoteKeeper(powers: readonly number[]): VoteKeeper {
  return { powers: [...powers], totalPower: powers.reduce((a, b) => a + b, 0), rounds: {} };
}

export function addVote<S>(
  keeper: VoteKeeper,
  vote: KeptVote<S>,
): { keeper: VoteKeeper; outcome: AddOutcome; evidence?: Equivocation<S> } {
  const power = keeper.powers[vote.validator];
  if (power === undefined) return { keeper, outcome: 'unknown-validator' };
  const round = keeper.rounds[vote.round] ?? EMPTY_ROUND;
  const tally = round[vote.type];
  const existing = tally.votes[vote.validator] as KeptVote<S> | undefined;
  if (existing !== undefined) {
    if (existing.value === vote.value) return { keeper, outcome: 'duplicate' };
    return { keeper, outcome: 'equivocation', evidence: { first: existing, second: vote } };
  }
  const key = keyOf(vote.value);
  const nextTally: Tally = {
    votes: { ...tally.votes, [vote.validator]: vote },
    power: { ...tally.power, [key]: (tally.power[key] ?? 0) + power },
    total: tally.total + power,
  };
  const isNewSender = round.senders[vote.validator] === undefined;
  const nextRound: RoundVotes = {
    ...round,
    [vote.type]: nextTally,
    senders: isNewSender ? { ...round.senders, [vote.validator]: true } : round.senders,
    senderPower: isNewSender ? round.senderPower + power : round.senderPower,
  };
  return { keeper: { ...keeper, rounds: { ...keeper.rounds, [vote.round]: nextRound } }, outcome: 'added' };
}

function tallyOf(k: VoteKeeper, round: number, type: VoteType): Tally {
  return k.rounds[round]?.[type] ?? EMPTY_TALLY;
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

/** Rounds above `round` in which f+1 power has spoken, lowest first. */
export function skipRoundsAbove(k: VoteKeeper, round: number): number[] {
  return Object.keys(k.rounds)
    .map(Number)
    .filter((r) => r > round && hasSkipThreshold(k, r))
    .sort((a, b) => a - b);
}

/** The votes of `type` for `value` in `round` (e.g. the precommits of a commit certificate). */
export function votesFor<S>(k: VoteKeeper, round: number, type: VoteType, value: ValueId): KeptVote<S>[] {
  const t = tallyOf(k, round, type);
  return Object.values(t.votes)
    .filter((v) => v.value === value)
    .sort((a, b) => a.validator - b.validator) as KeptVote<S>[];
}

/** Rounds in which anything was counted. */
export function roundsSeen(k: VoteKeeper): number[] {
  return Object.keys(k.rounds)
    .map(Number)
    .sort((a, b) => a - b);
}
