import { describe, expect, it } from 'vitest';
import { blockHash, proposalSignBytes, voteSignBytes } from '../engines/consensus/chain.ts';
import {
  type Block,
  NetEnvelope,
  VOTE_PRECOMMIT,
  VOTE_PREVOTE,
  type Vote,
} from '../engines/consensus/messages.ts';
import { makeValidatorSet } from '../engines/consensus/validators.ts';
import { toHex } from '../wire/commit.ts';
import { encode } from '../wire/schema.ts';
import { bareCommittedBlock } from '../wire/testing.ts';
import { ConductOracle, exceedsOneThird } from './conduct.ts';
import { SimKeyring } from './signer.ts';

const CHAIN = 'conduct-test';
const keyring = new SimKeyring();
const signers = [0, 1, 2, 3].map((i) => keyring.signer(`v${i}`));
const set = makeValidatorSet(
  signers.map((s) => ({ id: toHex(s.publicKey), publicKey: s.publicKey, power: 1 })),
);
/** signer of validator index i (the set is sorted by key) */
const signerOf = (i: number) => signers.find((s) => toHex(s.publicKey) === set.validators[i]!.id)!;

/** A well-formed block told apart by its time (the oracle only hashes it). */
function block(tag: number): Block {
  const b = bareCommittedBlock(CHAIN, 1n, []).block;
  return { ...b, header: { ...b.header, time: BigInt(tag) } };
}

const A = block(1);
const B = block(2);
const hashOf = (b: Block) => blockHash(b.header);

function vote(type: number, validator: number, round: number, b: Block | null, forged = false): Uint8Array {
  const v = { type, height: 1n, round, blockHash: b === null ? null : hashOf(b), validator };
  const signature = forged ? new Uint8Array(64) : signerOf(validator).sign(voteSignBytes(CHAIN, v));
  const value: Vote = { ...v, signature };
  return encode(NetEnvelope, { chainId: CHAIN, message: { tag: 'vote', value } });
}

function proposal(proposer: number, round: number, b: Block, validRound: number, forged = false): Uint8Array {
  const header = { height: 1n, round, validRound: validRound + 1, blockHash: hashOf(b) };
  const signature = forged ? new Uint8Array(64) : signerOf(proposer).sign(proposalSignBytes(CHAIN, header));
  return encode(NetEnvelope, {
    chainId: CHAIN,
    message: {
      tag: 'proposal',
      value: { height: 1n, round, validRound: validRound + 1, block: b, proposer, signature },
    },
  });
}

const oracle = () => new ConductOracle({ chainId: CHAIN, verify: keyring.verify, setAt: () => set });
/** validator 3 is the honest node under check */
const me = () => 3;

describe('the honest-conduct oracle', () => {
  it('a precommit needs the polka of its round (line 36)', () => {
    const o = oracle();
    o.record(proposal(0, 0, A, -1));
    o.record(vote(VOTE_PREVOTE, 0, 0, A));
    o.record(vote(VOTE_PREVOTE, 1, 0, A));
    expect(o.checkHonest(vote(VOTE_PRECOMMIT, 3, 0, A), me)).toMatch(/without 2f\+1 prevotes/);
    const p = oracle();
    p.record(proposal(0, 0, A, -1));
    for (const i of [0, 1, 2]) p.record(vote(VOTE_PREVOTE, i, 0, A));
    expect(p.checkHonest(vote(VOTE_PRECOMMIT, 3, 0, A), me)).toBeUndefined();
  });

  it('a prevote for a value needs a validly signed proposal of it in that round (line 22)', () => {
    const o = oracle();
    expect(o.checkHonest(vote(VOTE_PREVOTE, 3, 0, A), me)).toMatch(/no validly signed proposal/);
    const forged = oracle();
    forged.record(proposal(0, 0, A, -1, true)); // a bad signature is not a proposal
    expect(forged.checkHonest(vote(VOTE_PREVOTE, 3, 0, A), me)).toMatch(/no validly signed proposal/);
    const ok = oracle();
    ok.record(proposal(0, 0, A, -1));
    expect(ok.checkHonest(vote(VOTE_PREVOTE, 3, 0, A), me)).toBeUndefined();
    expect(ok.checkHonest(vote(VOTE_PREVOTE, 2, 0, null), () => 2)).toBeUndefined(); // nil needs nothing
  });

  it('forged votes make no polka', () => {
    const o = oracle();
    o.record(proposal(0, 0, A, -1));
    for (const i of [0, 1, 2]) o.record(vote(VOTE_PREVOTE, i, 0, A, true));
    expect(o.checkHonest(vote(VOTE_PRECOMMIT, 3, 0, A), me)).toMatch(/without 2f\+1 prevotes/);
  });

  it('a locked validator prevotes another value only on a later polka for it (lines 22, 28)', () => {
    const locked = () => {
      const o = oracle();
      o.record(proposal(0, 0, A, -1));
      for (const i of [0, 1, 2]) o.record(vote(VOTE_PREVOTE, i, 0, A));
      expect(o.checkHonest(vote(VOTE_PRECOMMIT, 3, 0, A), me)).toBeUndefined(); // locks on A in round 0
      o.record(vote(VOTE_PREVOTE, 0, 1, null)); // round 1 entered by f+1 (two validators) speaking there
      o.record(vote(VOTE_PREVOTE, 1, 1, null));
      return o;
    };
    // a fresh B in round 1: forbidden while locked on A
    const fresh = locked();
    fresh.record(proposal(1, 1, B, -1));
    expect(fresh.checkHonest(vote(VOTE_PREVOTE, 3, 1, B), me)).toMatch(/locked on .* in round 0/);
    // B re-proposed with a valid round that had no polka for B: still forbidden
    const lying = locked();
    lying.record(proposal(1, 1, B, 0));
    expect(lying.checkHonest(vote(VOTE_PREVOTE, 3, 1, B), me)).toMatch(/do not allow/);
    // A again is always fine for a validator locked on A
    const same = locked();
    same.record(proposal(1, 1, A, 0));
    expect(same.checkHonest(vote(VOTE_PREVOTE, 3, 1, A), me)).toBeUndefined();
  });

  it('a re-proposal must carry the round of a real polka (line 16)', () => {
    const o = oracle();
    for (const i of [0, 1, 2]) o.record(vote(VOTE_PRECOMMIT, i, 0, null)); // round 0 timed out
    expect(o.checkHonest(proposal(3, 1, A, 0), me)).toMatch(/no polka/);
    const p = oracle();
    for (const i of [0, 1, 2]) p.record(vote(VOTE_PREVOTE, i, 0, A));
    for (const i of [0, 1, 2]) p.record(vote(VOTE_PRECOMMIT, i, 0, null));
    expect(p.checkHonest(proposal(3, 1, A, 0), me)).toBeUndefined();
  });

  it('a round is entered by the precommit timeout of the one before or by f+1 power in it (lines 55, 65)', () => {
    const o = oracle();
    expect(o.checkHonest(vote(VOTE_PREVOTE, 3, 2, null), me)).toMatch(/without 2f\+1 precommits in round 1/);
    const skip = oracle();
    skip.record(vote(VOTE_PREVOTE, 0, 2, null));
    skip.record(vote(VOTE_PREVOTE, 1, 2, null));
    expect(skip.checkHonest(vote(VOTE_PREVOTE, 3, 2, null), me)).toBeUndefined();
    const one = oracle();
    one.record(vote(VOTE_PREVOTE, 0, 2, null)); // one validator of four is not f+1
    expect(one.checkHonest(vote(VOTE_PREVOTE, 3, 2, null), me)).toMatch(/lines 55, 65/);
    const timedOut = oracle();
    for (const i of [0, 1, 2]) timedOut.record(vote(VOTE_PRECOMMIT, i, 1, null));
    expect(timedOut.checkHonest(vote(VOTE_PREVOTE, 3, 2, null), me)).toBeUndefined();
    // having voted in round 1 is not a reason to be in round 2 (only the precommit timeout is)
    const stepped = oracle();
    stepped.record(vote(VOTE_PREVOTE, 3, 1, null));
    expect(stepped.checkHonest(vote(VOTE_PREVOTE, 3, 2, null), me)).toMatch(/lines 55, 65/);
    // once in round 2 (its first message there was justified), it stays
    for (const i of [0, 1, 2]) stepped.record(vote(VOTE_PRECOMMIT, i, 1, null));
    expect(stepped.checkHonest(vote(VOTE_PRECOMMIT, 3, 2, null), me)).toBeUndefined();
  });

  it('relayed messages and re-sends are only recorded, never judged', () => {
    const o = oracle();
    expect(o.checkHonest(vote(VOTE_PRECOMMIT, 1, 0, A), me)).toBeUndefined(); // validator 1's, relayed by 3
    const mine = vote(VOTE_PREVOTE, 3, 0, null);
    expect(o.checkHonest(mine, me)).toBeUndefined();
    expect(o.checkHonest(mine, me)).toBeUndefined();
  });

  it('the f+1 threshold is strictly more than a third', () => {
    expect(exceedsOneThird(1n, 3n)).toBe(false);
    expect(exceedsOneThird(2n, 4n)).toBe(true);
    expect(exceedsOneThird(1n, 4n)).toBe(false);
    expect(exceedsOneThird(4n, 10n)).toBe(true);
    expect(exceedsOneThird(10n, 30n)).toBe(false);
  });
});
