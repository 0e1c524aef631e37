import { describe, expect, it } from 'vitest';
import { voteSignBytes } from '../engines/consensus/chain.ts';
import { consensusStepOf, VOTE_PREVOTE } from '../engines/consensus/messages.ts';
import { SignRefusedError } from '../wire/signing-guard.ts';
import { SimKeyring } from './signer.ts';
import { guardedSigner } from './signing-guard.ts';

const vote = (height: bigint, round: number, hash: number | null) =>
  voteSignBytes('c', {
    type: VOTE_PREVOTE,
    height,
    round,
    blockHash: hash === null ? null : new Uint8Array(32).fill(hash),
  });

describe('the simulated signing guard', () => {
  it('signs each step once: the same bytes again get the same signature, other bytes or earlier steps are refused', () => {
    const s = guardedSigner(new SimKeyring().signer('v'));
    expect(consensusStepOf(vote(3n, 1, 7))).toEqual({ height: 3n, round: 1, step: 1 });
    const first = s.sign(vote(3n, 1, 7));
    // the engine step settles: what it signed is the guard's record
    s.settle?.(true);
    expect(s.sign(vote(3n, 1, 7))).toEqual(first);
    expect(() => s.sign(vote(3n, 1, 8))).toThrow(SignRefusedError);
    expect(() => s.sign(vote(3n, 0, 7))).toThrow(SignRefusedError);
    expect(() => s.sign(vote(2n, 5, null))).toThrow(SignRefusedError);
    expect(s.refusals()).toBe(3);
    s.sign(vote(3n, 2, null));
    expect(s.last()?.round).toBe(1); // not until its step settles
    s.settle?.(true);
    expect(s.last()?.round).toBe(2);
    // anything else is signed as it comes
    expect(s.sign(Uint8Array.of(1, 2, 3))).toHaveLength(64);
  });
});
