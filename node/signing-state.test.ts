import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { proposalSignBytes, voteSignBytes } from '../engines/consensus/chain.ts';
import { consensusStepOf, VOTE_PRECOMMIT, VOTE_PREVOTE } from '../engines/consensus/messages.ts';
import { sha256, toHex } from '../wire/commit.ts';
import { createSigner } from '../wire/sign.ts';
import { SignRefusedError } from '../wire/signing-guard.ts';
import { ConfigError } from './config.ts';
import { guardedSigner, readSigningLog, readSigningState } from './signing-state.ts';

const dir = mkdtempSync(join(tmpdir(), 'fractal-signing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(dir, `k${n++}.signing-state.json`);
const inner = () => createSigner(new Uint8Array(32).fill(7));
const vote = (type: number, height: bigint, round: number, blockHash: Uint8Array | null = null) =>
  voteSignBytes('c', { type, height, round, blockHash });

describe('the signing state beside a validator key', () => {
  it('reads the step of votes and proposals, and nothing else', () => {
    expect(consensusStepOf(vote(VOTE_PREVOTE, 5n, 2))).toEqual({ height: 5n, round: 2, step: 1 });
    expect(consensusStepOf(vote(VOTE_PRECOMMIT, 5n, 2))).toEqual({ height: 5n, round: 2, step: 2 });
    const p = proposalSignBytes('c', { height: 6n, round: 0, validRound: 0, blockHash: new Uint8Array(32) });
    expect(consensusStepOf(p)).toEqual({ height: 6n, round: 0, step: 0 });
    expect(consensusStepOf(Uint8Array.of(1, 2, 3))).toBeUndefined();
  });

  it('signs forward only; the same bytes at the last step get the same signature; it survives a restart', () => {
    const file = fresh();
    const a = guardedSigner(inner(), file, { fsync: true });
    const s1 = a.sign(vote(VOTE_PREVOTE, 3n, 0));
    a.sign(vote(VOTE_PRECOMMIT, 3n, 0, new Uint8Array(32).fill(1)));
    expect(() => a.sign(vote(VOTE_PREVOTE, 3n, 0))).toThrow(SignRefusedError);
    expect(() => a.sign(vote(VOTE_PRECOMMIT, 3n, 0, null))).toThrow(/other bytes/);
    expect(toHex(a.sign(vote(VOTE_PRECOMMIT, 3n, 0, new Uint8Array(32).fill(1))))).toBe(
      toHex(inner().sign(vote(VOTE_PRECOMMIT, 3n, 0, new Uint8Array(32).fill(1)))),
    );
    // the engine step that signed them landed its writes: they are the record now
    a.settle?.(true);
    // the process restarts: the file, not memory, decides
    const b = guardedSigner(inner(), file, { fsync: false });
    expect(readSigningState(file)).toMatchObject({ height: 3n, round: 0, step: 2 });
    expect(() => b.sign(vote(VOTE_PREVOTE, 2n, 9))).toThrow(/below 3\/0\/2/);
    expect(() => b.sign(vote(VOTE_PREVOTE, 3n, 0))).toThrow(SignRefusedError);
    expect(b.sign(vote(VOTE_PREVOTE, 3n, 1))).toHaveLength(64);
    expect(toHex(b.sign(Uint8Array.of(9)))).toBe(toHex(inner().sign(Uint8Array.of(9))));
    expect(s1).toHaveLength(64);
  });

  it('a step that failed leaves the file as it was: what it signed is forgotten, and may be signed again', () => {
    const file = fresh();
    const a = guardedSigner(inner(), file, { fsync: false });
    a.sign(vote(VOTE_PREVOTE, 3n, 0));
    a.settle?.(true);
    const before = readFileSync(file, 'utf8');
    // a step signs a precommit, and refuses a prevote below it, until it settles
    a.sign(vote(VOTE_PRECOMMIT, 3n, 0, new Uint8Array(32).fill(1)));
    expect(() => a.sign(vote(VOTE_PREVOTE, 3n, 0, new Uint8Array(32).fill(5)))).toThrow(SignRefusedError);
    a.settle?.(false);
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(a.last()).toMatchObject({ height: 3n, round: 0, step: 1 });
    // its retry signs other bytes for the precommit step: nothing of the failed step ever left
    expect(a.sign(vote(VOTE_PRECOMMIT, 3n, 0, null))).toHaveLength(64);
    a.settle?.(true);
    expect(readSigningState(file)).toMatchObject({ height: 3n, round: 0, step: 2 });
  });

  it('an unreadable state file stops the start instead of being ignored', () => {
    const file = fresh();
    writeFileSync(file, '{"height": 5');
    expect(() => guardedSigner(inner(), file, { fsync: false })).toThrow(ConfigError);
    writeFileSync(file, JSON.stringify({ height: '5', round: 0, step: 3, signBytes: '00', signature: '00' }));
    expect(() => readSigningState(file)).toThrow(/unreadable \(step\)/);
  });

  it('with a signing log, appends one line per new consensus signature and none for the rest', () => {
    const file = fresh();
    const log = `${file}.log`;
    const a = guardedSigner(inner(), file, { fsync: false, log });
    a.sign(Uint8Array.of(9)); // not a consensus message: no line
    expect(existsSync(log)).toBe(false);
    const prevote = vote(VOTE_PREVOTE, 4n, 1);
    const precommit = vote(VOTE_PRECOMMIT, 4n, 1, new Uint8Array(32).fill(2));
    a.sign(prevote);
    a.sign(precommit);
    a.settle?.(true);
    a.sign(precommit); // the same bytes again: the stored signature, no new line
    expect(() => a.sign(prevote)).toThrow(SignRefusedError); // refused: no line
    a.settle?.(true);
    // a restart appends to the same log
    const b = guardedSigner(inner(), file, { fsync: false, log });
    b.sign(vote(VOTE_PREVOTE, 5n, 0));
    b.settle?.(true);
    const { entries, unreadable } = readSigningLog(readFileSync(log, 'utf8'));
    expect(unreadable).toBe(0);
    expect(entries).toEqual([
      { height: 4n, round: 1, step: 1, signBytes: toHex(sha256(prevote)) },
      { height: 4n, round: 1, step: 2, signBytes: toHex(sha256(precommit)) },
      { height: 5n, round: 0, step: 1, signBytes: toHex(sha256(vote(VOTE_PREVOTE, 5n, 0))) },
    ]);
  });

  it('reads a signing log whose last line was torn by a kill', () => {
    const good = JSON.stringify({ height: '7', round: 0, step: 0, signBytes: 'ab' });
    expect(readSigningLog(`${good}\n{"height":"8","rou`)).toEqual({
      entries: [{ height: 7n, round: 0, step: 0, signBytes: 'ab' }],
      unreadable: 1,
    });
  });
});
