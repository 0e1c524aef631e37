/**
 * The Tendermint round state machine of "The latest gossip on BFT consensus" (Buchman, Kwon,
 * Milosevic 2018), Algorithm 1, as a pure function: `step(state, input) -> { state, outputs }`.
 *
 * It knows heights, rounds, steps, locks and valid values; it asks the vote keeper for thresholds.
 * It never signs, sends, stores or reads time: it returns outputs (broadcast a proposal or a vote,
 * schedule a timeout, ask for a value, decide) and the engine carries them out. Rule numbers in
 * comments are the line numbers of Algorithm 1.
 */
import { type Priorities, proposerForRound } from './validators.ts';
import {
  addVote,
  hasQuorumAny,
  hasQuorumFor,
  type KeptVote,
  newVoteKeeper,
  skipRoundsAbove,
  type ValueId,
  type VoteKeeper,
  type VoteType,
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
  /** Index of this node in the validator set, or -1 for a non-validator (full node). */
  readonly self: number;
  /** Voting power per validator index, and the proposer priorities at round 0 of this height. */
  readonly powers: readonly number[];
  readonly priorities: Priorities;
  /** The first proposal received from each round's proposer. */
  readonly proposals: Readonly<Record<number, ProposalSeen>>;
  readonly votes: VoteKeeper;
  /** "for the first time" guards, for the current round only (reset by StartRound). */
  readonly prevoteTimeoutScheduled: boolean;
  readonly precommitTimeoutScheduled: boolean;
  readonly lockedThisRound: boolean;
  readonly decision: { readonly value: string; readonly round: number } | null;
  readonly timeouts: TimeoutConfig;
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
    self,
    powers: [...powers],
    priorities: [...priorities],
    proposals: {},
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

const STEP_ORDER: Record<Step, number> = { propose: 0, prevote: 1, precommit: 2, commit: 3 };

/** Applies one input, then every rule that became enabled, until none is. */
export function step(state: RoundState, input: RoundInput): StepResult {
  const outputs: RoundOutput[] = [];
  let s = applyInput(state, input, outputs);
  s = settle(s, outputs);
  return { state: s, outputs };
}

function applyInput(s: RoundState, input: RoundInput, out: RoundOutput[]): RoundState {
  if (s.decision !== null && input.kind !== 'vote') return s;
  switch (input.kind) {
    case 'start-height': {
      if (s.round >= 0) return s;
      const r = input.resume;
      const locked =
        r === undefined || r.lockedValue === null
          ? s
          : {
              ...s,
              lockedValue: r.lockedValue,
              lockedRound: r.lockedRound,
              validValue: r.lockedValue,
              validRound: r.lockedRound,
            };
      const started = startRound(locked, input.round ?? 0, out);
      return r === undefined || r.step === 'propose' ? started : { ...started, step: r.step };
    }
    case 'proposal': {
      if (s.proposals[input.round] !== undefined) return s; // the first proposal of a round counts
      return {
        ...s,
        proposals: {
          ...s.proposals,
          [input.round]: { value: input.value, validRound: input.validRound, valid: input.valid },
        },
      };
    }
    case 'propose-value': {
      // line 19: the proposer's own value for a round it is still in
      if (input.round !== s.round || s.step !== 'propose' || s.proposals[input.round] !== undefined) return s;
      out.push({ kind: 'propose', height: s.height, round: s.round, value: input.value, validRound: -1 });
      return {
        ...s,
        proposals: { ...s.proposals, [input.round]: { value: input.value, validRound: -1, valid: true } },
      };
    }
    case 'vote': {
      const added = addVote(s.votes, input.vote);
      if (added.outcome === 'equivocation' && added.evidence) {
        out.push({ kind: 'evidence', first: added.evidence.first, second: added.evidence.second });
      }
      return added.keeper === s.votes ? s : { ...s, votes: added.keeper };
    }
    case 'timeout':
      return onTimeout(s, input, out);
  }
}

/** StartRound (lines 10-21). */
function startRound(s: RoundState, round: number, out: RoundOutput[]): RoundState {
  const isProposer = s.self >= 0 && proposerOf(s, round) === s.self;
  const next: RoundState = {
    ...s,
    round,
    step: 'propose',
    prevoteTimeoutScheduled: false,
    precommitTimeoutScheduled: false,
    lockedThisRound: false,
  };
  out.push({ kind: 'new-round', height: s.height, round });
  if (isProposer) {
    // a proposer that already proposed in this round (its WAL says so, after a restart) proposes
    // nothing new: the signed proposal is re-sent as it was, and is the one it prevotes
    if (next.proposals[round] !== undefined) return next;
    if (next.validValue !== null) {
      out.push({
        kind: 'propose',
        height: s.height,
        round,
        value: next.validValue,
        validRound: next.validRound,
      });
      return {
        ...next,
        proposals: {
          ...next.proposals,
          [round]: { value: next.validValue, validRound: next.validRound, valid: true },
        },
      };
    }
    out.push({ kind: 'get-value', height: s.height, round });
    return next;
  }
  out.push({
    kind: 'schedule-timeout',
    step: 'propose',
    height: s.height,
    round,
    duration: timeoutFor(s.timeouts, 'propose', round),
  });
  return next;
}

function onTimeout(
  s: RoundState,
  t: { step: 'propose' | 'prevote' | 'precommit'; height: number; round: number },
  out: RoundOutput[],
): RoundState {
  if (t.height !== s.height || t.round !== s.round) return s;
  if (t.step === 'propose' && s.step === 'propose') {
    // line 57
    return castVote(s, 'prevote', null, 'prevote', out);
  }
  if (t.step === 'prevote' && s.step === 'prevote') {
    // line 61
    return castVote(s, 'precommit', null, 'precommit', out);
  }
  if (t.step === 'precommit') {
    // line 65
    return startRound(s, s.round + 1, out);
  }
  return s;
}

function castVote(
  s: RoundState,
  type: VoteType,
  value: ValueId,
  nextStep: Step,
  out: RoundOutput[],
): RoundState {
  if (s.self >= 0) out.push({ kind: 'vote', type, height: s.height, round: s.round, value });
  return { ...s, step: nextStep };
}

/** Evaluates the upon-rules until none applies. */
function settle(state: RoundState, out: RoundOutput[]): RoundState {
  let s = state;
  for (let guard = 0; guard < 64; guard++) {
    const next = applyOneRule(s, out);
    if (next === s) return s;
    s = next;
  }
  throw new Error('round state machine did not settle: a rule keeps firing');
}

function applyOneRule(s: RoundState, out: RoundOutput[]): RoundState {
  if (s.decision !== null) return s;
  const h = s.height;

  // line 49: a decision may come from any round
  for (const [rs, p] of Object.entries(s.proposals)) {
    const r = Number(rs);
    if (p.valid && hasQuorumFor(s.votes, r, 'precommit', p.value)) {
      out.push({ kind: 'decide', height: h, round: r, value: p.value });
      return { ...s, step: 'commit', decision: { value: p.value, round: r } };
    }
  }

  // line 55: f+1 messages of a higher round
  const skip = skipRoundsAbove(s.votes, s.round);
  if (skip.length > 0 && s.round >= 0) {
    return startRound(s, skip[0]!, out);
  }
  if (s.round < 0) return s;

  const r = s.round;
  const proposal = s.proposals[r];

  if (s.step === 'propose' && proposal !== undefined) {
    if (proposal.validRound === -1) {
      // line 22
      const ok = proposal.valid && (s.lockedRound === -1 || s.lockedValue === proposal.value);
      return castVote(s, 'prevote', ok ? proposal.value : null, 'prevote', out);
    }
    const vr = proposal.validRound;
    if (vr >= 0 && vr < r && hasQuorumFor(s.votes, vr, 'prevote', proposal.value)) {
      // line 28
      const ok = proposal.valid && (s.lockedRound <= vr || s.lockedValue === proposal.value);
      return castVote(s, 'prevote', ok ? proposal.value : null, 'prevote', out);
    }
  }

  if (s.step === 'prevote' && !s.prevoteTimeoutScheduled && hasQuorumAny(s.votes, r, 'prevote')) {
    // line 34
    out.push({
      kind: 'schedule-timeout',
      step: 'prevote',
      height: h,
      round: r,
      duration: timeoutFor(s.timeouts, 'prevote', r),
    });
    return { ...s, prevoteTimeoutScheduled: true };
  }

  if (
    STEP_ORDER[s.step] >= STEP_ORDER.prevote &&
    !s.lockedThisRound &&
    proposal?.valid &&
    hasQuorumFor(s.votes, r, 'prevote', proposal.value)
  ) {
    // line 36
    let next: RoundState = { ...s, lockedThisRound: true, validValue: proposal.value, validRound: r };
    if (s.step === 'prevote') {
      next = { ...next, lockedValue: proposal.value, lockedRound: r };
      next = castVote(next, 'precommit', proposal.value, 'precommit', out);
    }
    return next;
  }

  if (s.step === 'prevote' && hasQuorumFor(s.votes, r, 'prevote', null)) {
    // line 44
    return castVote(s, 'precommit', null, 'precommit', out);
  }

  if (!s.precommitTimeoutScheduled && hasQuorumAny(s.votes, r, 'precommit')) {
    // line 47
    out.push({
      kind: 'schedule-timeout',
      step: 'precommit',
      height: h,
      round: r,
      duration: timeoutFor(s.timeouts, 'precommit', r),
    });
    return { ...s, precommitTimeoutScheduled: true };
  }

  return s;
}
