/**
 * The Tendermint round state machine (Algorithm 1 of "The latest gossip on BFT consensus") as an
 * XState machine: its states are the steps of a round, its transitions the rules of the paper,
 * each guard and action named after the line it implements. The guards and actions are the pure
 * rules of round.ts; this file only says which rule applies in which step, in the paper's order.
 *
 * Inputs are events; the paper's `upon` rules are eventless transitions, so that after every
 * input the machine takes every rule that became enabled, until none is (XState's microsteps).
 * `step(state, input)` runs one input through the machine as a pure transition (runtime/part.ts, on
 * the compiled runner): no actor, nothing kept between calls, the same state and input give the
 * same result.
 */
import { assign, setup } from 'xstate';
import { partStep } from '../../runtime/part.ts';
import {
  canDecide,
  countVote,
  decide,
  enterHeight,
  firstPrecommitQuorum,
  firstPrevoteQuorum,
  freshProposalAcceptable,
  freshProposalUnacceptable,
  isFirstProposal,
  isOwnValueForThisRound,
  isTimeoutNow,
  lockAndPrecommit,
  polkaForNil,
  polkaForProposal,
  precommitNil,
  prevoteNil,
  prevoteProposal,
  proposeOwnValue,
  type RoundInput,
  type RoundOutput,
  type RoundState,
  recordProposal,
  reProposalAcceptable,
  reProposalUnacceptable,
  resumesAt,
  type StepResult,
  schedulePrecommitTimeout,
  schedulePrevoteTimeout,
  seesHigherRound,
  skipToHigherRound,
  startNextRound,
  updateValidValue,
} from './round.ts';

/** The machine's context: the round state, and the outputs of the step in progress. */
export interface RoundContext {
  readonly s: RoundState;
  readonly out: readonly RoundOutput[];
}

/** Each input kind is an event of the same name. */
export type RoundEvent = {
  [K in RoundInput['kind']]: { type: K; input: Extract<RoundInput, { kind: K }> };
}[RoundInput['kind']];

type Of<K extends RoundInput['kind']> = Extract<RoundInput, { kind: K }>;
type Arg = { context: RoundContext; event: RoundEvent };

/** The machine state a round state is in. */
export type RoundPhase = 'notStarted' | 'propose' | 'prevote' | 'precommit' | 'decided';

export function phaseOf(s: RoundState): RoundPhase {
  if (s.decision !== null) return 'decided';
  if (s.round < 0) return 'notStarted';
  return s.step === 'commit' ? 'decided' : s.step;
}

/** An action from a rule: the next round state, its outputs appended to the step's. */
function rule(f: (s: RoundState, out: RoundOutput[]) => RoundState) {
  return ({ context }: Arg): Partial<RoundContext> => {
    const out = [...context.out];
    return { s: f(context.s, out), out };
  };
}

function onInput<K extends RoundInput['kind']>(
  _kind: K,
  f: (s: RoundState, input: Of<K>, out: RoundOutput[]) => RoundState,
) {
  return ({ context, event }: Arg): Partial<RoundContext> => {
    const out = [...context.out];
    return { s: f(context.s, event.input as Of<K>, out), out };
  };
}

function inputGuard<K extends RoundInput['kind']>(_kind: K, g: (s: RoundState, input: Of<K>) => boolean) {
  return ({ context, event }: Arg) => g(context.s, event.input as Of<K>);
}

const state =
  (g: (s: RoundState) => boolean) =>
  ({ context }: Arg) =>
    g(context.s);

// the paper's rules that hold in every started step, first: a decision, then a higher round
const DECIDE = {
  guard: 'line 49: proposal and 2f+1 precommits for it',
  target: '#round.decided',
  actions: 'decide',
} as const;
const SKIP = {
  guard: 'line 55: f+1 of a higher round',
  target: '#round.propose',
  actions: 'start that round',
  reenter: true,
} as const;
const PRECOMMIT_TIMER = {
  guard: 'line 47: 2f+1 precommits, first time',
  actions: 'schedule timeoutPrecommit',
} as const;
const TIMEOUT_PRECOMMIT = {
  guard: 'line 65: timeoutPrecommit of this round',
  target: '#round.propose',
  actions: 'start the next round',
  reenter: true,
} as const;

export const roundMachine = setup({
  types: {} as { context: RoundContext; events: RoundEvent; input: RoundContext },
  guards: {
    'resumes having prevoted': inputGuard('start-height', (_s, i) => resumesAt(i, 'prevote')),
    'resumes having precommitted': inputGuard('start-height', (_s, i) => resumesAt(i, 'precommit')),
    'first proposal of its round': inputGuard('proposal', isFirstProposal),
    'line 19: own value for this round': inputGuard('propose-value', isOwnValueForThisRound),
    'line 57: timeoutPropose of this round': inputGuard('timeout', (s, i) => isTimeoutNow(s, i, 'propose')),
    'line 61: timeoutPrevote of this round': inputGuard('timeout', (s, i) => isTimeoutNow(s, i, 'prevote')),
    'line 65: timeoutPrecommit of this round': inputGuard('timeout', (s, i) =>
      isTimeoutNow(s, i, 'precommit'),
    ),
    'line 49: proposal and 2f+1 precommits for it': state(canDecide),
    'line 55: f+1 of a higher round': state(seesHigherRound),
    'line 22: valid, unlocked or locked on it': state(freshProposalAcceptable),
    'line 22: invalid, or locked on another': state(freshProposalUnacceptable),
    'line 28: polka at vr, valid, lock not newer or on it': state(reProposalAcceptable),
    'line 28: polka at vr, but invalid or locked newer': state(reProposalUnacceptable),
    'line 34: 2f+1 prevotes, first time': state(firstPrevoteQuorum),
    'line 36: 2f+1 prevotes for the valid proposal': state(polkaForProposal),
    'line 44: 2f+1 prevotes for nil': state(polkaForNil),
    'line 47: 2f+1 precommits, first time': state(firstPrecommitQuorum),
  },
  actions: {
    'enter the height': assign(onInput('start-height', enterHeight)),
    'record the proposal': assign(onInput('proposal', (s, i) => recordProposal(s, i))),
    'propose own value': assign(onInput('propose-value', proposeOwnValue)),
    'count the vote': assign(onInput('vote', countVote)),
    decide: assign(rule(decide)),
    'start that round': assign(rule(skipToHigherRound)),
    'start the next round': assign(rule(startNextRound)),
    'prevote id': assign(rule(prevoteProposal)),
    'prevote nil': assign(rule(prevoteNil)),
    'precommit nil': assign(rule(precommitNil)),
    'lock, precommit id': assign(rule(lockAndPrecommit)),
    'valid value := id': assign(rule((s) => updateValidValue(s))),
    'schedule timeoutPrevote': assign(rule(schedulePrevoteTimeout)),
    'schedule timeoutPrecommit': assign(rule(schedulePrecommitTimeout)),
  },
}).createMachine({
  id: 'round',
  context: ({ input }) => input,
  initial: 'notStarted',
  // every state but `decided` records proposals and counts votes; `decided` counts votes only
  on: {
    vote: { actions: 'count the vote' },
  },
  states: {
    notStarted: {
      on: {
        'start-height': [
          { guard: 'resumes having prevoted', target: 'prevote', actions: 'enter the height' },
          { guard: 'resumes having precommitted', target: 'precommit', actions: 'enter the height' },
          { target: 'propose', actions: 'enter the height' },
        ],
        proposal: { guard: 'first proposal of its round', actions: 'record the proposal' },
      },
      always: [DECIDE],
    },
    propose: {
      on: {
        proposal: { guard: 'first proposal of its round', actions: 'record the proposal' },
        'propose-value': { guard: 'line 19: own value for this round', actions: 'propose own value' },
        timeout: [
          { guard: 'line 57: timeoutPropose of this round', target: 'prevote', actions: 'prevote nil' },
          TIMEOUT_PRECOMMIT,
        ],
      },
      always: [
        DECIDE,
        SKIP,
        { guard: 'line 22: valid, unlocked or locked on it', target: 'prevote', actions: 'prevote id' },
        { guard: 'line 22: invalid, or locked on another', target: 'prevote', actions: 'prevote nil' },
        {
          guard: 'line 28: polka at vr, valid, lock not newer or on it',
          target: 'prevote',
          actions: 'prevote id',
        },
        {
          guard: 'line 28: polka at vr, but invalid or locked newer',
          target: 'prevote',
          actions: 'prevote nil',
        },
        PRECOMMIT_TIMER,
      ],
    },
    prevote: {
      on: {
        proposal: { guard: 'first proposal of its round', actions: 'record the proposal' },
        timeout: [
          { guard: 'line 61: timeoutPrevote of this round', target: 'precommit', actions: 'precommit nil' },
          TIMEOUT_PRECOMMIT,
        ],
      },
      always: [
        DECIDE,
        SKIP,
        { guard: 'line 34: 2f+1 prevotes, first time', actions: 'schedule timeoutPrevote' },
        {
          guard: 'line 36: 2f+1 prevotes for the valid proposal',
          target: 'precommit',
          actions: 'lock, precommit id',
        },
        { guard: 'line 44: 2f+1 prevotes for nil', target: 'precommit', actions: 'precommit nil' },
        PRECOMMIT_TIMER,
      ],
    },
    precommit: {
      on: {
        proposal: { guard: 'first proposal of its round', actions: 'record the proposal' },
        timeout: [TIMEOUT_PRECOMMIT],
      },
      always: [
        DECIDE,
        SKIP,
        { guard: 'line 36: 2f+1 prevotes for the valid proposal', actions: 'valid value := id' },
        PRECOMMIT_TIMER,
      ],
    },
    decided: {},
  },
});

/** The round machine's pure step (the runtime watches its microsteps while it inspects the engine). */
const transition = partStep(roundMachine);

/** Runs one input through the round machine: the next state, and what it asks the engine to do. */
export function step(s: RoundState, input: RoundInput): StepResult {
  const next = transition(phaseOf(s), { s, out: [] }, { type: input.kind, input } as RoundEvent);
  const { s: after, out } = next.context as RoundContext;
  // the machine's state and the round state it carries must agree
  if (next.value !== phaseOf(after)) {
    throw new Error(`round machine in ${String(next.value)} but its round state is in ${phaseOf(after)}`);
  }
  return { state: after, outputs: out as RoundOutput[] };
}
