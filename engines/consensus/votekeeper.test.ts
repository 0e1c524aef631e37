import { describe, expect, it } from 'vitest';
import {
  addVote,
  type KeptVote,
  lowestSkipRoundAbove,
  MAX_KEPT_ROUND,
  newVoteKeeper,
  roundsSeen,
  type VoteKeeper,
} from './votekeeper.ts';

const prevote = (validator: number, round: number, value: string | null = 'a'): KeptVote => ({
  type: 'prevote',
  round,
  validator,
  value,
  signed: { validator, round },
});

function add(k: VoteKeeper, ...votes: KeptVote[]): VoteKeeper {
  let keeper = k;
  for (const v of votes) keeper = addVote(keeper, v).keeper;
  return keeper;
}

describe('vote keeper rounds', () => {
  it('lists the rounds with votes only, and finds the lowest f+1 round above, across gaps', () => {
    const k = add(newVoteKeeper([1, 1, 1, 1]), prevote(0, 5), prevote(1, 5), prevote(2, 2), prevote(3, 7));
    expect(roundsSeen(k)).toEqual([2, 5, 7]);
    // f+1 = 2 of 4: round 5 has it, round 2 and 7 have one voter each
    expect(lowestSkipRoundAbove(k, 0)).toBe(5);
    expect(lowestSkipRoundAbove(k, 5)).toBeUndefined();
    const more = add(k, prevote(0, 2));
    expect(lowestSkipRoundAbove(more, 0)).toBe(2);
    expect(lowestSkipRoundAbove(more, 2)).toBe(5);
  });

  it('keeps nothing of a vote for a round past the bound, and leaves earlier keepers as they were', () => {
    const k = add(newVoteKeeper([1, 1, 1, 1]), prevote(0, 0));
    const far = addVote(k, prevote(1, MAX_KEPT_ROUND + 1));
    expect(far.outcome).toBe('round-out-of-range');
    expect(far.keeper).toBe(k);
    const next = addVote(k, prevote(1, 3));
    expect(next.outcome).toBe('added');
    expect(roundsSeen(k)).toEqual([0]);
    expect(roundsSeen(next.keeper)).toEqual([0, 3]);
  });
});
