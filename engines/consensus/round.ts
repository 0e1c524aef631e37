/**
 * The rules of the Tendermint round state machine of "The latest gossip on BFT consensus"
 * (Buchman, Kwon, Milosevic 2018), Algorithm 1, as pure functions: for each `upon` rule a guard
 * (does it hold?) and its action (the next state, and what to send, schedule or decide).
 * round-machine.ts wires them into the XState machine that is the protocol, and its `step` runs
 * one input through that machine.
 *
 * The rules know heights, rounds, steps, locks and valid values; they ask the vote keeper for
 * thresholds. They never sign, send, store or read time: they return outputs (broadcast a
 * proposal or a vote, schedule a timeout, ask for a value, decide) and the engine carries them
 * out. Rule numbers are the line numbers of Algorithm 1.
 */
import { present } from '../../runtime/assert.ts';
import { type Priorities, proposerForRound } from './validators.ts';
import {
  addVote,
  hasQuorumAny,
  hasQuorumFor,
  type KeptVote,
  lowestSkipRoundAbove,
  newVoteKeeper,
  type ValueId,
  type VoteKeeper,
  type VoteType,
  withAt,
} from './votekeeper.ts';

export type Step = 'propose' | 'prevote' | 'precommit' | 'commit';

export interface TimeoutConfig {
  propose: number;
  proposeDelta: number;
  prevote: number;
  prevoteDelta: number;
  precommit: number;
  precommitDelta: number;
}

export const DEFAULT_TIMEOUTS: TimeoutConfig = {
  propose: 300,
  proposeDelta: 100,
  prevote: 100,
  prevoteDelta: 50,
  precommit: 100,
  precommitDelta: 50,
};

export interface ProposalSeen {
  readonly value: string;
  readonly validRound: number;
  /** valid(v): the engine checked the block against the application and the chain. */
  readonly valid: boolean;
}

export interface RoundState {
  readonly height: number;
  readonly round: number;
  readonly step: Step;
  readonly lockedValue: ValueId;
  readonly lockedRound: number;
  readonly validValue: ValueId;
  readonly validRound: number;
  /**
   * Whether the node holds the valid value's block, so that it can re-propose it (line 15). Always
   * so when the value became valid here (lines 36-43: its proposal was at hand); after a restart
   * the WAL's lock may name a block the node never stored, until that block arrives again.
   */
  readonly validBlockHeld: boolean;
  /** Index of this node in the validator set, or -1 for a non-validator (full node). */
  readonly self: number;
  /** Voting power per validator index, and the proposer priorities at round 0 of this height. */
  readonly powers: readonly number[];
  readonly priorities: Priorities;
  /** The first proposal received from each round's proposer. */
  /** By round (undefined: none yet); an array, as V8 copies and scans a frozen integer-keyed record slowly. */
  readonly proposals: readonly (ProposalSeen | undefined)[];
  readonly votes: VoteKeeper;
  /** "for the first time" guards, for the current round only (reset by StartRound). */
  readonly prevoteTimeoutScheduled: boolean;
  readonly precommitTimeoutScheduled: boolean;
  readonly lockedThisRound: boolean;
  readonly decision: { readonly value: string; readonly round: number } | null;
  readonly timeouts: TimeoutConfig;
}

/**
 * `s` with `changes` over it: a literal naming every field, then the changes set on it before
 * anyone sees it (V8 copies a spread of this state, frozen in the simulator, on its slow path).
 */
export function withRoundChanges(s: RoundState, changes: Partial<RoundState>): RoundState {
  const copy: RoundState = {
    height: s.height,
    round: s.round,
    step: s.step,
    lockedValue: s.lockedValue,
    lockedRound: s.lockedRound,
    validValue: s.validValue,
    validRound: s.validRound,
    validBlockHeld: s.validBlockHeld,
    self: s.self,
    powers: s.powers,
    priorities: s.priorities,
    proposals: s.proposals,
    votes: s.votes,
    prevoteTimeoutScheduled: s.prevoteTimeoutScheduled,
    precommitTimeoutScheduled: s.precommitTimeoutScheduled,
    lockedThisRound: s.lockedThisRound,
    decision: s.decision,
    timeouts: s.timeouts,
  };
  return Object.assign(copy, changes);
}

export type RoundInput =
  /**
   * Enter the height at round 0 or, after a restart, where the WAL shows the node was: its round,
   * its step there, and the lock its last non-nil precommit implies (locks must survive restarts).
   */
  | { kind: 'start-height'; round?: number; resume?: Resume }
  | { kind: 'proposal'; round: number; value: string; validRound: number; valid: boolean }
  | { kind: 'propose-value'; round: number; value: string }
  | { kind: 'vote'; vote: KeptVote }
  | { kind: 'timeout'; step: 'propose' | 'prevote' | 'precommit'; height: number; round: number };

export type RoundOutput =
  | { kind: 'propose'; height: number; round: number; value: string; validRound: number }
  | { kind: 'get-value'; height: number; round: number }
  | { kind: 'vote'; type: VoteType; height: number; round: number; value: ValueId }
  | {
      kind: 'schedule-timeout';
      step: 'propose' | 'prevote' | 'precommit';
      height: number;
      round: number;
      duration: number;
    }
  | { kind: 'decide'; height: number; round: number; value: string }
  | { kind: 'new-round'; height: number; round: number }
  | { kind: 'evidence'; first: KeptVote; second: KeptVote };

export interface Resume {
  readonly step: 'propose' | 'prevote' | 'precommit';
  readonly lockedValue: ValueId;
  readonly lockedRound: number;
  /**
   * Whether the node still holds the locked value's block. The lock always survives a restart
   * (safety); the locked value is also the valid value only when its block is at hand, since a
   * proposer re-proposes its valid value (line 15) and cannot propose a block it does not have.
   */
  readonly lockedBlockHeld: boolean;
}

export interface StepResult {
  readonly state: RoundState;
  readonly outputs: RoundOutput[];
}

export function initialRoundState(
  height: number,
  self: number,
  powers: readonly number[],
  priorities: Priorities,
  timeouts: TimeoutConfig = DEFAULT_TIMEOUTS,
): RoundState {
  return {
    height,
    round: -1,
    step: 'propose',
    lockedValue: null,
    lockedRound: -1,
    validValue: null,
    validRound: -1,
    validBlockHeld: false,
    self,
    powers: [...powers],
    priorities: [...priorities],
    proposals: [],
    votes: newVoteKeeper(powers),
    prevoteTimeoutScheduled: false,
    precommitTimeoutScheduled: false,
    lockedThisRound: false,
    decision: null,
    timeouts,
  };
}

export function timeoutFor(
  t: TimeoutConfig,
  step: 'propose' | 'prevote' | 'precommit',
  round: number,
): number {
  switch (step) {
    case 'propose':
      return t.propose + round * t.proposeDelta;
    case 'prevote':
      return t.prevote + round * t.prevoteDelta;
    case 'precommit':
      return t.precommit + round * t.precommitDelta;
  }
}

/** The validator index that proposes `round` at this height. */
export function proposerOf(s: RoundState, round: number): number {
  return proposerForRound(s.powers, s.priorities, round);
}

/** An input applied outside the rules (they fire after it). */
export type RoundOut = RoundOutput[];

// ---- inputs -------------------------------------------------------------------------------

/** Enters the height (lines 10-11), with the lock a WAL resume carries (it must survive restarts). */
export function enterHeight(
  s: RoundState,
  input: Extract<RoundInput, { kind: 'start-height' }>,
  out: RoundOut,
): RoundState {
  const r = input.resume;
  const locked =
    r === undefined || r.lockedValue === null
      ? s
      : withRoundChanges(s, {
          lockedValue: r.lockedValue,
          lockedRound: r.lockedRound,
          validValue: r.lockedValue,
          validRound: r.lockedRound,
          validBlockHeld: r.lockedBlockHeld,
        });
  const started = startRound(locked, input.round ?? 0, out);
  return r === undefined || r.step === 'propose' ? started : withRoundChanges(started, { step: r.step });
}

/** The WAL says this node had prevoted (or precommitted) in the round it resumes. */
export function resumesAt(
  input: Extract<RoundInput, { kind: 'start-height' }>,
  step: 'prevote' | 'precommit',
): boolean {
  return input.resume?.step === step;
}

/** Only the first proposal of a round counts. */
export function isFirstProposal(s: RoundState, input: Extract<RoundInput, { kind: 'proposal' }>): boolean {
  return s.proposals[input.round] === undefined;
}

export function recordProposal(s: RoundState, input: Extract<RoundInput, { kind: 'proposal' }>): RoundState {
  return withRoundChanges(s, {
    proposals: withAt(s.proposals, input.round, {
      value: input.value,
      validRound: input.validRound,
      valid: input.valid,
    }),
  });
}

/** Line 19: the proposer's own value, for the round it is still proposing in. */
export function isOwnValueForThisRound(
  s: RoundState,
  input: Extract<RoundInput, { kind: 'propose-value' }>,
): boolean {
  return input.round === s.round && s.step === 'propose' && s.proposals[input.round] === undefined;
}

export function proposeOwnValue(
  s: RoundState,
  input: Extract<RoundInput, { kind: 'propose-value' }>,
  out: RoundOut,
): RoundState {
  out.push({ kind: 'propose', height: s.height, round: s.round, value: input.value, validRound: -1 });
  return withRoundChanges(s, {
    proposals: withAt(s.proposals, input.round, { value: input.value, validRound: -1, valid: true }),
  });
}

/** Counts a vote; a second, different vote of a validator in the same slot is evidence. */
export function countVote(
  s: RoundState,
  input: Extract<RoundInput, { kind: 'vote' }>,
  out: RoundOut,
): RoundState {
  const added = addVote(s.votes, input.vote);
  if (added.outcome === 'equivocation' && added.evidence) {
    out.push({ kind: 'evidence', first: added.evidence.first, second: added.evidence.second });
  }
  return added.keeper === s.votes ? s : withRoundChanges(s, { votes: added.keeper });
}

/** A timeout of this height and round, for `step` (timeouts of earlier rounds are stale). */
export function isTimeoutNow(
  s: RoundState,
  input: Extract<RoundInput, { kind: 'timeout' }>,
  step: 'propose' | 'prevote' | 'precommit',
): boolean {
  return input.step === step && input.height === s.height && input.round === s.round;
}

// ---- StartRound and voting ------------------------------------------------------------------

/** StartRound (lines 10-21). */
export function startRound(s: RoundState, round: number, out: RoundOut): RoundState {
  const isProposer = s.self >= 0 && proposerOf(s, round) === s.self;
  const next: RoundState = withRoundChanges(s, {
    round,
    step: 'propose',
    prevoteTimeoutScheduled: false,
    precommitTimeoutScheduled: false,
    lockedThisRound: false,
  });
  out.push({ kind: 'new-round', height: s.height, round });
  if (isProposer) {
    // a proposer that already proposed in this round (its WAL says so, after a restart) proposes
    // nothing new: the signed proposal is re-sent as it was, and is the one it prevotes
    if (next.proposals[round] !== undefined) return next;
    // (a valid value whose block this node does not hold cannot be proposed: line 18 instead)
    if (next.validValue !== null && next.validBlockHeld) {
      // line 15: propose validValue
      out.push({
        kind: 'propose',
        height: s.height,
        round,
        value: next.validValue,
        validRound: next.validRound,
      });
      return withRoundChanges(next, {
        proposals: withAt(next.proposals, round, {
          value: next.validValue,
          validRound: next.validRound,
          valid: true,
        }),
      });
    }
    // line 18: getValue()
    out.push({ kind: 'get-value', height: s.height, round });
    return next;
  }
  // line 21
  out.push({
    kind: 'schedule-timeout',
    step: 'propose',
    height: s.height,
    round,
    duration: timeoutFor(s.timeouts, 'propose', round),
  });
  return next;
}

function castVote(s: RoundState, type: VoteType, value: ValueId, nextStep: Step, out: RoundOut): RoundState {
  if (s.self >= 0) out.push({ kind: 'vote', type, height: s.height, round: s.round, value });
  return withRoundChanges(s, { step: nextStep });
}

/** Lines 57 and 24/30 (otherwise branch): prevote nil. */
export function prevoteNil(s: RoundState, out: RoundOut): RoundState {
  return castVote(s, 'prevote', null, 'prevote', out);
}

/** Lines 24 and 30: prevote id(v) of this round's proposal. */
export function prevoteProposal(s: RoundState, out: RoundOut): RoundState {
  return castVote(
    s,
    'prevote',
    present(proposalOfRound(s), 'the proposal being prevoted').value,
    'prevote',
    out,
  );
}

/** Lines 45 and 61: precommit nil. */
export function precommitNil(s: RoundState, out: RoundOut): RoundState {
  return castVote(s, 'precommit', null, 'precommit', out);
}

/** Line 65: on timeoutPrecommit, StartRound(round + 1). */
export function startNextRound(s: RoundState, out: RoundOut): RoundState {
  return startRound(s, s.round + 1, out);
}

// ---- the upon-rules ---------------------------------------------------------------------------

/** Line 49: a proposal of any round with 2f+1 precommits for it, and valid. */
function decidable(s: RoundState): { round: number; value: string } | undefined {
  // rounds in ascending order, as the rule has always scanned them
  for (let round = 0; round < s.proposals.length; round++) {
    const p = s.proposals[round];
    if (p?.valid === true && hasQuorumFor(s.votes, round, 'precommit', p.value))
      return { round, value: p.value };
  }
  return undefined;
}

export function canDecide(s: RoundState): boolean {
  return decidable(s) !== undefined;
}

/** Line 49: decide(v). */
export function decide(s: RoundState, out: RoundOut): RoundState {
  const d = present(decidable(s), 'the proposal line 49 decides');
  out.push({ kind: 'decide', height: s.height, round: d.round, value: d.value });
  return withRoundChanges(s, { step: 'commit', decision: d });
}

/** Line 55: f+1 power of a higher round. */
export function seesHigherRound(s: RoundState): boolean {
  return s.round >= 0 && lowestSkipRoundAbove(s.votes, s.round) !== undefined;
}

/** Line 55: StartRound(the lowest such round). */
export function skipToHigherRound(s: RoundState, out: RoundOut): RoundState {
  return startRound(s, present(lowestSkipRoundAbove(s.votes, s.round), 'the higher round of line 55'), out);
}

function proposalOfRound(s: RoundState): ProposalSeen | undefined {
  return s.proposals[s.round];
}

/** Line 22: a fresh proposal (validRound -1), valid, and we are unlocked or locked on it. */
export function freshProposalAcceptable(s: RoundState): boolean {
  const p = proposalOfRound(s);
  return (
    p !== undefined && p.validRound === -1 && p.valid && (s.lockedRound === -1 || s.lockedValue === p.value)
  );
}

/** Line 22, otherwise (line 26): a fresh proposal we may not prevote. */
export function freshProposalUnacceptable(s: RoundState): boolean {
  const p = proposalOfRound(s);
  return p !== undefined && p.validRound === -1 && !freshProposalAcceptable(s);
}

/** Line 28: a re-proposal whose valid round vr < round has 2f+1 prevotes for it at vr. */
function reProposalBacked(s: RoundState): ProposalSeen | undefined {
  const p = proposalOfRound(s);
  if (p === undefined) return undefined;
  const vr = p.validRound;
  return vr >= 0 && vr < s.round && hasQuorumFor(s.votes, vr, 'prevote', p.value) ? p : undefined;
}

/** Line 28: backed, valid, and our lock is no newer than vr or is on it. */
export function reProposalAcceptable(s: RoundState): boolean {
  const p = reProposalBacked(s);
  return p?.valid === true && (s.lockedRound <= p.validRound || s.lockedValue === p.value);
}

/** Line 28, otherwise (line 32): backed, but invalid or against a newer lock. */
export function reProposalUnacceptable(s: RoundState): boolean {
  return reProposalBacked(s) !== undefined && !reProposalAcceptable(s);
}

/** Line 34: 2f+1 prevotes of any kind in this round, for the first time. */
export function firstPrevoteQuorum(s: RoundState): boolean {
  return !s.prevoteTimeoutScheduled && hasQuorumAny(s.votes, s.round, 'prevote');
}

/** Line 35: schedule OnTimeoutPrevote. */
export function schedulePrevoteTimeout(s: RoundState, out: RoundOut): RoundState {
  out.push({
    kind: 'schedule-timeout',
    step: 'prevote',
    height: s.height,
    round: s.round,
    duration: timeoutFor(s.timeouts, 'prevote', s.round),
  });
  return withRoundChanges(s, { prevoteTimeoutScheduled: true });
}

/** Line 36: this round's proposal, valid, with 2f+1 prevotes for it, for the first time. */
export function polkaForProposal(s: RoundState): boolean {
  const p = proposalOfRound(s);
  return !s.lockedThisRound && p?.valid === true && hasQuorumFor(s.votes, s.round, 'prevote', p.value);
}

/** Lines 38-41 (in step prevote): lock on it and precommit it; 42-43: it is the valid value. */
export function lockAndPrecommit(s: RoundState, out: RoundOut): RoundState {
  const v = present(proposalOfRound(s), 'the proposal line 36 locks on').value;
  const locked: RoundState = withRoundChanges(s, {
    lockedThisRound: true,
    validValue: v,
    validRound: s.round,
    validBlockHeld: true,
    lockedValue: v,
    lockedRound: s.round,
  });
  return castVote(locked, 'precommit', v, 'precommit', out);
}

/** Lines 42-43 (in step precommit): it becomes the valid value, the lock stays. */
export function updateValidValue(s: RoundState): RoundState {
  return withRoundChanges(s, {
    lockedThisRound: true,
    validValue: present(proposalOfRound(s), 'the proposal line 36 makes valid').value,
    validRound: s.round,
    validBlockHeld: true,
  });
}

/** The block of `value` is at hand (it arrived in a proposal): the valid value can be proposed again. */
export function blockArrived(s: RoundState, value: string): RoundState {
  return s.validValue === value && !s.validBlockHeld ? withRoundChanges(s, { validBlockHeld: true }) : s;
}

/** Line 44: 2f+1 prevotes for nil in this round. */
export function polkaForNil(s: RoundState): boolean {
  return hasQuorumFor(s.votes, s.round, 'prevote', null);
}

/** Line 47: 2f+1 precommits of any kind in this round, for the first time. */
export function firstPrecommitQuorum(s: RoundState): boolean {
  return !s.precommitTimeoutScheduled && hasQuorumAny(s.votes, s.round, 'precommit');
}

/** Line 48: schedule OnTimeoutPrecommit. */
export function schedulePrecommitTimeout(s: RoundState, out: RoundOut): RoundState {
  out.push({
    kind: 'schedule-timeout',
    step: 'precommit',
    height: s.height,
    round: s.round,
    duration: timeoutFor(s.timeouts, 'precommit', s.round),
  });
  return withRoundChanges(s, { precommitTimeoutScheduled: true });
}
