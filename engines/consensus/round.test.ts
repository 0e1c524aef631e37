import { describe, expect, it } from 'vitest';
import {
  initialRoundState,
  proposerOf,
  type RoundInput,
  type RoundOutput,
  type RoundState,
  withRoundChanges,
} from './round.ts';
import { phaseOf, step } from './round-machine.ts';
import { initialPriorities } from './validators.ts';
import type { KeptVote } from './votekeeper.ts';

/**
 * A synchronous harness: n round state machines for one height; votes and proposals of every
 * node reach every node (optionally filtered), timeouts fire only when the test says so.
 */
class Harness {
  states: RoundState[];
  decided: (string | undefined)[];
  timeouts: RoundOutput[][];
  queue: { to: number; input: RoundInput }[] = [];
  log: RoundOutput[][];
  /** Applied to each state before it is stepped (a test freezes them). */
  prepare: (s: RoundState) => RoundState = (s) => s;

  constructor(
    readonly powers: number[],
    readonly deliver: (from: number, to: number, o: RoundOutput) => boolean = () => true,
    readonly proposalValue: (node: number, round: number) => string = (_n, r) => `block-r${r}`,
  ) {
    const prio = initialPriorities(powers);
    this.states = powers.map((_, i) => initialRoundState(1, i, powers, prio));
    this.decided = powers.map(() => undefined);
    this.timeouts = powers.map(() => []);
    this.log = powers.map(() => []);
  }

  input(node: number, input: RoundInput): void {
    this.queue.push({ to: node, input });
    this.drain();
  }

  startAll(): void {
    for (let i = 0; i < this.states.length; i++) this.queue.push({ to: i, input: { kind: 'start-height' } });
    this.drain();
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const { to, input } = this.queue.shift()!;
      const r = step(this.prepare(this.states[to]!), input);
      this.states[to] = r.state;
      for (const o of r.outputs) this.handle(to, o);
    }
  }

  private handle(from: number, o: RoundOutput): void {
    this.log[from]!.push(o);
    switch (o.kind) {
      case 'get-value':
        this.queue.push({
          to: from,
          input: { kind: 'propose-value', round: o.round, value: this.proposalValue(from, o.round) },
        });
        break;
      case 'propose':
        this.states.forEach((_, to) => {
          if (to !== from && this.deliver(from, to, o)) {
            this.queue.push({
              to,
              input: {
                kind: 'proposal',
                round: o.round,
                value: o.value,
                validRound: o.validRound,
                valid: true,
              },
            });
          }
        });
        break;
      case 'vote': {
        const vote: KeptVote = {
          type: o.type,
          round: o.round,
          validator: from,
          value: o.value,
          signed: null,
        };
        this.states.forEach((_, to) => {
          if (to === from || this.deliver(from, to, o))
            this.queue.push({ to, input: { kind: 'vote', vote } });
        });
        break;
      }
      case 'schedule-timeout':
        this.timeouts[from]!.push(o);
        break;
      case 'decide':
        this.decided[from] = o.value;
        break;
      default:
        break;
    }
  }

  /** Fires the latest scheduled timeout of `step` at every node still in that round. */
  fireTimeouts(kind: 'propose' | 'prevote' | 'precommit'): void {
    this.states.forEach((s, i) => {
      const t = [...this.timeouts[i]!]
        .reverse()
        .find((x) => x.kind === 'schedule-timeout' && x.step === kind);
      if (t && t.kind === 'schedule-timeout')
        this.queue.push({ to: i, input: { kind: 'timeout', step: kind, height: t.height, round: t.round } });
      void s;
    });
    this.drain();
  }
}

describe('round state machine', () => {
  it('four honest validators decide the round-0 proposal at round 0', () => {
    const h = new Harness([1, 1, 1, 1]);
    h.startAll();
    const proposer = proposerOf(h.states[0]!, 0);
    expect(h.decided).toEqual(['block-r0', 'block-r0', 'block-r0', 'block-r0']);
    expect(h.states.every((s) => s.step === 'commit' && s.decision?.round === 0)).toBe(true);
    expect(h.log[proposer]!.some((o) => o.kind === 'propose')).toBe(true);
  });

  it('a silent proposer costs a round: nil prevotes, nil precommits, then round 1 decides', () => {
    const silent = proposerOf(new Harness([1, 1, 1, 1]).states[0]!, 0);
    const h = new Harness([1, 1, 1, 1], (from, _to, o) => !(from === silent && o.kind === 'propose'));
    h.startAll();
    expect(h.decided.filter((d) => d !== undefined)).toEqual([]);
    h.fireTimeouts('propose');
    // every non-proposer prevoted nil; the proposer prevoted its own value: 3 nil prevotes = 2f+1
    expect(h.states.filter((s) => s.step === 'precommit').length).toBeGreaterThanOrEqual(3);
    h.fireTimeouts('precommit');
    expect(h.states.every((s) => s.round >= 1)).toBe(true);
    expect(new Set(h.decided)).toEqual(new Set(['block-r1']));
  });

  it('does not decide with only 2f votes (2 of 4 reachable)', () => {
    // nodes 0,1 hear only each other; 2,3 only each other
    const side = (i: number) => (i < 2 ? 0 : 1);
    const h = new Harness([1, 1, 1, 1], (from, to) => side(from) === side(to));
    h.startAll();
    h.fireTimeouts('propose');
    h.fireTimeouts('prevote');
    expect(h.decided.every((d) => d === undefined)).toBe(true);
  });

  it('weighted power: one validator with more than 2/3 decides alone', () => {
    const h = new Harness([10, 1, 1, 1], (from) => from === 0);
    h.startAll();
    // node 0 can reach quorum by itself; the others hear node 0 and decide too
    expect(h.decided[0]).toBeDefined();
    expect(new Set(h.decided.filter(Boolean)).size).toBe(1);
  });

  it('locks on a value and re-proposes it as validValue in the next round', () => {
    // Round 0 (proposer 0): node 3 never sees the proposal; only the precommits of nodes 0 and 3
    // get through. Nodes 0-2 lock on block-r0, nodes 1 and 2 time out, nobody decides.
    const h = new Harness([1, 1, 1, 1], (from, to, o) => {
      if (o.kind === 'propose' && o.round === 0) return to !== 3;
      if (o.kind === 'vote' && o.type === 'precommit' && o.round === 0) return from === 0 || from === 3;
      return true;
    });
    h.startAll();
    expect(proposerOf(h.states[0]!, 0)).toBe(0);
    h.fireTimeouts('propose');
    h.fireTimeouts('prevote');
    expect(h.decided.every((d) => d === undefined)).toBe(true);
    expect(h.states.map((s) => s.lockedRound)).toEqual([0, 0, 0, -1]);
    expect(h.states.slice(0, 3).every((s) => s.lockedValue === 'block-r0')).toBe(true);
    h.fireTimeouts('precommit');
    // round 1's proposer is locked, so it re-proposes block-r0 with validRound 0 (not a new value);
    // node 3 accepts it by line 28 (2f+1 round-0 prevotes), nodes 0 and 3 join by the skip rule
    const p1 = proposerOf(h.states[0]!, 1);
    expect(p1).toBe(1);
    const proposal = h.log[p1]!.find((o) => o.kind === 'propose' && o.round === 1);
    expect(proposal).toMatchObject({ value: 'block-r0', validRound: 0 });
    expect(h.log[p1]!.some((o) => o.kind === 'get-value' && o.round === 1)).toBe(false);
    expect(h.decided).toEqual(['block-r0', 'block-r0', 'block-r0', 'block-r0']);
  });

  it('a locked validator prevotes nil for a different fresh value', () => {
    const h = new Harness([1, 1, 1, 1]);
    let s = step(h.states[2]!, { kind: 'start-height' }).state;
    s = { ...s, lockedValue: 'old', lockedRound: 0, round: 1, step: 'propose' };
    const r = step(s, { kind: 'proposal', round: 1, value: 'new', validRound: -1, valid: true });
    expect(r.outputs).toContainEqual({ kind: 'vote', type: 'prevote', height: 1, round: 1, value: null });
  });

  it('prevotes nil for an invalid proposal', () => {
    const h = new Harness([1, 1, 1, 1]);
    const s = step(h.states[2]!, { kind: 'start-height' }).state;
    const r = step(s, { kind: 'proposal', round: 0, value: 'bad', validRound: -1, valid: false });
    expect(r.outputs).toContainEqual({ kind: 'vote', type: 'prevote', height: 1, round: 0, value: null });
  });

  it('skips to a higher round on f+1 votes from it', () => {
    const h = new Harness([1, 1, 1, 1]);
    const s0 = h.states[0]!;
    let s = step(s0, { kind: 'start-height' }).state;
    expect(s.round).toBe(0);
    const vote = (validator: number): RoundInput => ({
      kind: 'vote',
      vote: { type: 'prevote', round: 5, validator, value: null, signed: null },
    });
    s = step(s, vote(1)).state;
    expect(s.round).toBe(0);
    const r = step(s, vote(2));
    expect(r.state.round).toBe(5);
    expect(r.outputs).toContainEqual({ kind: 'new-round', height: 1, round: 5 });
  });

  it('reports equivocation, counts each value once, and the validator once in "any"', () => {
    const h = new Harness([1, 1, 1, 1]);
    let s = step(h.states[0]!, { kind: 'start-height' }).state;
    const v = (value: string | null): RoundInput => ({
      kind: 'vote',
      vote: { type: 'prevote', round: 0, validator: 3, value, signed: value },
    });
    s = step(s, v('a')).state;
    const r = step(s, v('b'));
    expect(r.outputs.filter((o) => o.kind === 'evidence')).toHaveLength(1);
    const tally = r.state.votes.rounds[0]!.prevote;
    expect(tally.power).toEqual({ a: 1, b: 1 });
    expect(tally.total).toBe(1);
    // the same vote again is a duplicate: no new evidence, nothing counted
    const again = step(r.state, v('b'));
    expect(again.outputs).toEqual([]);
    expect(again.state.votes).toBe(r.state.votes);
  });

  it('ignores timeouts of other rounds or heights', () => {
    const h = new Harness([1, 1, 1, 1]);
    const s = step(h.states[1]!, { kind: 'start-height' }).state;
    expect(step(s, { kind: 'timeout', step: 'propose', height: 1, round: 3 }).state).toBe(s);
    expect(step(s, { kind: 'timeout', step: 'propose', height: 2, round: 0 }).state).toBe(s);
  });

  it('never changes the state it is given: every step works on deeply frozen states', () => {
    const freeze = <T>(x: T): T => {
      if (x !== null && typeof x === 'object' && !Object.isFrozen(x)) {
        Object.freeze(x);
        for (const v of Object.values(x)) freeze(v);
      }
      return x;
    };
    // every state handed to step is frozen first: a rule that wrote in place would throw
    const h = new Harness([1, 1, 1, 1], (_from, to) => to !== 3);
    h.prepare = freeze;
    h.startAll();
    for (const t of h.timeouts[3]!) if (t.kind === 'schedule-timeout') h.input(3, { ...t, kind: 'timeout' });
    expect(h.decided.slice(0, 3)).toEqual(['block-r0', 'block-r0', 'block-r0']);
    expect(h.states.every((x) => Object.isFrozen(x))).toBe(false); // results are new objects
  });

  it('keeps the machine state and the round state in the same step', () => {
    const h = new Harness([1, 1, 1, 1]);
    expect(phaseOf(h.states[0]!)).toBe('notStarted');
    h.startAll();
    for (const s of h.states) expect(phaseOf(s)).toBe('decided');
    // a validator that resumes having precommitted in round 2 enters there, in step precommit
    const fresh = new Harness([1, 1, 1, 1]).states[3]!;
    const resumed = step(fresh, {
      kind: 'start-height',
      round: 2,
      resume: { step: 'precommit', lockedValue: 'v', lockedRound: 1, lockedBlockHeld: true },
    }).state;
    expect([phaseOf(resumed), resumed.round, resumed.lockedValue, resumed.validValue]).toEqual([
      'precommit',
      2,
      'v',
      'v',
    ]);
  });

  it('a proposer resuming with a lock but without its block proposes a new value, not one it cannot send', () => {
    const resumeAt = (lockedBlockHeld: boolean) =>
      new Harness([1, 1, 1, 1]).states.map(
        (fresh) =>
          step(fresh, {
            kind: 'start-height',
            round: 2,
            resume: { step: 'propose', lockedValue: 'v', lockedRound: 0, lockedBlockHeld },
          }).outputs,
      );
    const proposals = (outs: ReturnType<typeof resumeAt>) =>
      outs.flat().filter((o) => o.kind === 'propose' || o.kind === 'get-value');
    // with the block at hand, line 15: the proposer of round 2 re-proposes its valid value
    expect(proposals(resumeAt(true))).toEqual([
      { kind: 'propose', height: 1, round: 2, value: 'v', validRound: 0 },
    ]);
    // without it, the lock stays but there is no valid value to re-propose: line 18, getValue()
    expect(proposals(resumeAt(false))).toEqual([{ kind: 'get-value', height: 1, round: 2 }]);
  });
});

describe('withRoundChanges', () => {
  it('copies every field of the round state and sets the changed ones, as a spread would', () => {
    const s = initialRoundState(3, 1, [1, 2, 3], initialPriorities([1, 2, 3]));
    const changed = withRoundChanges(s, { round: 2, step: 'prevote', decision: null });
    expect(changed).toStrictEqual({ ...s, round: 2, step: 'prevote', decision: null });
    expect(Object.keys(changed)).toEqual(Object.keys(s));
    expect(s.round).toBe(-1);
  });
});
