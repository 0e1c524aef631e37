import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { SimKeyring } from '../../sim/signer.ts';
import { MemoryStorage } from '../../storage/memory.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { decode, encode } from '../../wire/schema.ts';
import type { Signer } from '../../wire/sign.ts';
import {
  blockHash,
  type ChainTip,
  checkBlock,
  checkEvidence,
  nextBlockTime,
  proposalSignBytes,
  txsHash,
  voteSignBytes,
} from './chain.ts';
import { type Block, NetEnvelope, VOTE_PREVOTE, type Vote } from './messages.ts';
import {
  type ConsensusState,
  type Env,
  emptyEffects,
  initialState,
  onAppRoot,
  onNet,
  onTimeout,
  onTxs,
  withChanges,
} from './node.ts';
import { proposerOf } from './round.ts';
import { ConsensusStore, KIND_PREVOTE } from './store.ts';

const CHAIN = 'test-chain';

function setup(selfIndex = 0) {
  const keyring = new SimKeyring();
  const signers: Signer[] = [0, 1, 2, 3].map((i) => keyring.signer(`v${i}`));
  const storage = new MemoryStorage();
  const env = (now = 0, signer: Signer | undefined = signers[selfIndex]): Env => ({
    signer,
    verify: keyring.verify,
    store: new ConsensusStore(storage),
    now,
  });
  const cfg = {
    chainId: CHAIN,
    validators: signers.map((s) => ({ publicKey: s.publicKey, power: 1 })),
    genesisAppRoot: new Uint8Array(32),
  };
  const { state } = initialState(cfg, env());
  const indexOf = (s: Signer) => state.validators.index.get(Buffer.from(s.publicKey).toString('hex'))!;
  return { keyring, signers, storage, env, cfg, state, indexOf };
}

function vote(signer: Signer, validator: number, over: Partial<Vote> = {}, chainId = CHAIN): Vote {
  const base = { type: VOTE_PREVOTE, height: 1n, round: 0, blockHash: null, ...over };
  return { ...base, validator, signature: signer.sign(voteSignBytes(chainId, base)), ...over };
}

/** An env whose verifier counts its calls. */
function countingVerifications(t: ReturnType<typeof setup>): { env: Env; verified: () => number } {
  let n = 0;
  const env: Env = {
    ...t.env(),
    verify: (pk, msg, sig) => {
      n++;
      return t.keyring.verify(pk, msg, sig);
    },
  };
  return { env, verified: () => n };
}

function send(state: ConsensusState, env: Env, bytes: Uint8Array) {
  const fx = emptyEffects();
  const next = onNet(state, 'peer-x', bytes, env, fx);
  return { next, fx };
}

const envelope = (v: Vote, chainId = CHAIN) =>
  encode(NetEnvelope, { chainId, message: { tag: 'vote', value: v } });

describe('consensus node: bad input is dropped with a typed reason and changes nothing else', () => {
  const cases: [string, (t: ReturnType<typeof setup>) => Uint8Array][] = [
    ['undecodable', () => Uint8Array.of(1, 2, 3, 250)],
    ['wrong-chain', (t) => envelope(vote(t.signers[1]!, t.indexOf(t.signers[1]!)), 'other-chain')],
    ['bad-signature', (t) => envelope(vote(t.signers[2]!, t.indexOf(t.signers[1]!)))],
    ['unknown-validator', (t) => envelope(vote(t.signers[1]!, 77))],
    ['far-future-height', (t) => envelope(vote(t.signers[1]!, t.indexOf(t.signers[1]!), { height: 99n }))],
    ['far-future-round', (t) => envelope(vote(t.signers[1]!, t.indexOf(t.signers[1]!), { round: 10_000 }))],
    ['bad-vote-type', (t) => envelope(vote(t.signers[1]!, t.indexOf(t.signers[1]!), { type: 7 }))],
  ];
  for (const [reason, make] of cases) {
    it(reason, () => {
      const t = setup();
      const { next, fx } = send(t.state, t.env(), make(t));
      expect(fx.penalties).toEqual([{ peer: 'peer-x', reason }]);
      expect(next.penalties).toEqual({ 'peer-x': { [reason]: 1 } });
      expect(next.round).toBe(t.state.round);
      expect(next.height).toBe(t.state.height);
      expect(fx.committed).toEqual([]);
    });
  }

  it('a valid vote is counted (the cases above could have been)', () => {
    const t = setup();
    const v = vote(t.signers[1]!, t.indexOf(t.signers[1]!));
    const { next, fx } = send(t.state, t.env(), envelope(v));
    expect(fx.penalties).toEqual([]);
    expect(next.round.votes).not.toBe(t.state.round.votes);
  });

  it('property: arbitrary bytes never throw and never change consensus state', () => {
    const t = setup();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const { next } = send(t.state, t.env(), bytes);
        expect(next.round).toBe(t.state.round);
        expect(next.height).toBe(t.state.height);
      }),
      propParams('consensus.garbage-bytes', 500),
    );
  });
});

describe('consensus node: WAL', () => {
  it('logs a vote before sending it, and a restart re-sends the same bytes instead of signing anew', () => {
    const t = setup(1);
    // time out the propose step: the node prevotes nil, which must be in the WAL first
    const fx = emptyEffects();
    const name = Object.keys(t.state.deadlines).find((k) => k.startsWith('propose/'));
    expect(name).toBeDefined();
    const after = onTimeout(t.state, name!, t.env(1000), fx);
    const logged = new ConsensusStore(t.storage).signed(1n, 0, KIND_PREVOTE);
    expect(logged).toBeDefined();
    expect(after.round.step).toBe('prevote');
    expect(fx.sends.length).toBeGreaterThan(0);
    // restart from storage only: the node is back in round 0 and re-broadcasts what it signed
    let signed = 0;
    const counting: Signer = {
      publicKey: t.signers[1]!.publicKey,
      sign: (m) => {
        signed++;
        return t.signers[1]!.sign(m);
      },
    };
    const restarted = initialState(t.cfg, t.env(2000, counting));
    expect(restarted.state.round.round).toBe(0);
    expect(restarted.state.round.step).toBe('prevote');
    expect(signed).toBe(0);
    expect(restarted.effects.sends.some((s) => Buffer.from(s.bytes).includes(Buffer.from(logged!)))).toBe(
      true,
    );
  });
});

describe('consensus node: proposal equivocation', () => {
  it('two different signed proposals for one round become evidence that checks out', () => {
    const t = setup();
    const proposerIndex = proposerOf(t.state.round, 0);
    const signer = t.signers.find((s) => t.indexOf(s) === proposerIndex)!;
    // the node under test must not be the proposer itself
    const watcher = t.signers.find((s) => t.indexOf(s) !== proposerIndex)!;
    const w = setup(t.signers.indexOf(watcher));
    let state = w.state;
    const env = w.env(0, watcher);
    // two different blocks (they differ in time); their validity does not matter for equivocation
    const proposal = (time: number) => {
      const block: Block = {
        header: {
          chainId: CHAIN,
          height: 1n,
          time: BigInt(time),
          proposer: signer.publicKey,
          lastBlockHash: new Uint8Array(32),
          txsHash: new Uint8Array(32),
          appRoot: new Uint8Array(32),
          lastCommitHash: new Uint8Array(32),
          evidenceHash: new Uint8Array(32),
          validatorsHash: new Uint8Array(32),
        },
        txs: [],
        lastCommit: null,
        evidence: [],
      };
      const hash = blockHash(block.header);
      const signature = signer.sign(
        proposalSignBytes(CHAIN, { height: 1n, round: 0, validRound: 0, blockHash: hash }),
      );
      return encode(NetEnvelope, {
        chainId: CHAIN,
        message: {
          tag: 'proposal',
          value: { height: 1n, round: 0, validRound: 0, block, proposer: proposerIndex, signature },
        },
      });
    };
    const fx = emptyEffects();
    state = onNet(state, 'p', proposal(1), env, fx);
    state = onNet(state, 'p', proposal(2), env, fx);
    expect(state.evidence).toHaveLength(1);
    const e = state.evidence[0]!;
    expect(e.tag).toBe('proposal');
    expect(checkEvidence(e, state.validators, CHAIN, w.keyring.verify)).toBeNull();
    // the same evidence with one signature swapped for the other message's is rejected
    if (e.tag === 'proposal') {
      const forged = {
        tag: 'proposal' as const,
        value: { ...e.value, second: { ...e.value.second, signature: e.value.first.signature } },
      };
      expect(checkEvidence(forged, state.validators, CHAIN, w.keyring.verify)).toBe('bad-evidence');
    }
  });
});

describe('consensus node: block interval (timeout_commit)', () => {
  const tagOf = (m: { bytes: Uint8Array }) => decode(NetEnvelope, m.bytes).message.tag;

  /** The validator proposing round 0 of height 1, set up with a block interval. */
  function proposerWithInterval(blockInterval: number) {
    const t = setup();
    const proposer = proposerOf(t.state.round, 0);
    const signer = t.signers.find((s) => t.indexOf(s) === proposer)!;
    const storage = new MemoryStorage();
    const env = (now: number): Env => ({
      signer,
      verify: t.keyring.verify,
      store: new ConsensusStore(storage),
      now,
    });
    const { state, effects } = initialState({ ...t.cfg, blockInterval }, env(1_000));
    return { state, effects, env };
  }

  it('without an interval the proposer proposes at once', () => {
    const { effects } = proposerWithInterval(0);
    expect(effects.sends.map(tagOf)).toContain('proposal');
  });

  it('a re-sent proposal like the one taken is not checked again and changes nothing', () => {
    const { effects } = proposerWithInterval(0);
    const proposal = effects.sends.find((m) => tagOf(m) === 'proposal')!.bytes;
    const t = setup();
    const { env: counting, verified } = countingVerifications(t);
    const first = onNet(t.state, 'peer-x', proposal, counting, emptyEffects());
    expect(Object.keys(first.blocks)).toHaveLength(1);
    const checks = verified();
    expect(checks).toBeGreaterThan(0);
    const fx = emptyEffects();
    expect(onNet(first, 'peer-y', proposal, counting, fx)).toBe(first);
    expect(verified()).toBe(checks);
    expect(fx.sends.length + fx.penalties.length).toBe(0);
  });

  it('with an interval the proposer waits, then proposes a block stamped after the interval', () => {
    const { state, effects, env } = proposerWithInterval(250);
    expect(effects.sends).toEqual([]);
    expect(state.deadlines['build/1/0']).toBe(1_250);
    const fx = emptyEffects();
    const next = onTimeout(state, 'build/1/0', env(1_250), fx);
    expect(fx.sends.map(tagOf)).toContain('proposal');
    expect(next.deadlines['build/1/0']).toBeUndefined();
    expect(Object.values(next.blocks)[0]!.header.time).toBe(1_250n);
  });
});

describe('consensus node: the block interval overlaps execution', () => {
  it("the next height's interval runs from the decision, not from the app root's arrival", () => {
    const keyring = new SimKeyring();
    const key = keyring.signer('alone');
    const store = new ConsensusStore(new MemoryStorage());
    const env = (now: number): Env => ({ signer: key, verify: keyring.verify, store, now });
    const cfg = {
      chainId: 'interval',
      validators: [{ publicKey: key.publicKey, power: 1 }],
      genesisAppRoot: new Uint8Array(32),
      awaitAppRoot: true,
      blockInterval: 250,
    };
    const { state } = initialState(cfg, env(1_000));
    expect(state.deadlines['build/1/0']).toBe(1_250);
    // a lone validator proposes, votes and decides height 1 in the step its build deadline fires
    const decided = onTimeout(state, 'build/1/0', env(1_250), emptyEffects());
    expect(decided.decided?.block.header.height).toBe(1n);
    // executing it took 150 ms: height 2's block is due 250 ms after the decision, not after the root
    const next = onAppRoot(decided, 1n, new Uint8Array(32).fill(1), [], env(1_400), emptyEffects());
    expect(next.height).toBe(2n);
    expect(next.deadlines['build/2/0']).toBe(1_500);
    // execution slower than the interval: the block is built at once
    const late = onAppRoot(decided, 1n, new Uint8Array(32).fill(1), [], env(1_600), emptyEffects());
    expect(late.deadlines['build/2/0']).toBeUndefined();
    expect(Object.keys(late.blocks)).toHaveLength(1);
  });
});

describe('consensus node: a block carries each transaction once, ever', () => {
  function built(txs: Uint8Array[], committed: Uint8Array[] = []) {
    const t = setup();
    const proposer = proposerOf(t.state.round, 0);
    const signer = t.signers.find((s) => t.indexOf(s) === proposer)!;
    const storage = new MemoryStorage();
    const store = new ConsensusStore(storage);
    // an earlier height committed these (as a restarted node's store remembers)
    store.commit(0n, new Uint8Array(0), committed.map(sha256));
    const env = (now: number): Env => ({ signer, verify: t.keyring.verify, store, now });
    const { state } = initialState({ ...t.cfg, blockInterval: 100 }, env(0));
    const next = onTimeout(onTxs(state, txs), 'build/1/0', env(100), emptyEffects());
    const block = Object.values(next.blocks)[0]!;
    const tip = (over: Partial<ChainTip> = {}): ChainTip => ({
      chainId: CHAIN,
      height: 1n,
      lastBlockHash: next.lastBlockHash,
      lastBlockTime: next.lastBlockTime,
      appRoot: next.appRoot,
      validators: next.validators,
      previousValidators: next.previousValidators,
      maxTxs: 1000,
      maxTxBytes: 1 << 20,
      isCommittedTx: () => false,
      ...over,
    });
    return { block, tip, verify: t.keyring.verify };
  }
  const a = Uint8Array.of(1, 1, 1);
  const b = Uint8Array.of(2, 2);

  it('the proposer leaves out a transaction an earlier block committed (after a restart its mempool may hold it)', () => {
    expect(built([a, b]).block.txs).toEqual([a, b]);
    expect(built([a, b], [a]).block.txs).toEqual([b]);
  });

  it('a proposal repeating a committed transaction, or one twice, or beyond the limits is invalid', () => {
    const { block, tip, verify } = built([a, b]);
    expect(checkBlock(block, tip(), verify)).toBeNull();
    const aId = toHex(sha256(a));
    expect(checkBlock(block, tip({ isCommittedTx: (id) => toHex(id) === aId }), verify)).toBe('repeated-tx');
    expect(checkBlock(block, tip({ maxTxs: 1 }), verify)).toBe('oversize-block');
    expect(checkBlock(block, tip({ maxTxBytes: 4 }), verify)).toBe('oversize-block');
    // past height 1 a block's time must pass its predecessor's
    const later = { ...block, header: { ...block.header, height: 2n } };
    expect(checkBlock(later, tip({ height: 2n, lastBlockTime: block.header.time }), verify)).toBe(
      'bad-block-time',
    );
    const twice = built([a, b, a]).block;
    expect(twice.txs).toEqual([a, b]);
    const forged = { ...twice, txs: [a, a], header: { ...twice.header, txsHash: txsHash([a, a]) } };
    expect(checkBlock(forged, tip(), verify)).toBe('repeated-tx');
  });
});

describe('consensus node: a re-sent vote', () => {
  it('byte for byte like one counted is not checked again and changes nothing; a forged copy still is', () => {
    const t = setup();
    const { env: counting, verified } = countingVerifications(t);
    const v1 = vote(t.signers[1]!, t.indexOf(t.signers[1]!));
    const first = onNet(t.state, 'peer-x', envelope(v1), counting, emptyEffects());
    expect(verified()).toBe(1);
    expect(first.round).not.toBe(t.state.round);
    const fx = emptyEffects();
    const again = onNet(first, 'peer-y', envelope(v1), counting, fx);
    expect(verified()).toBe(1);
    expect(again).toBe(first);
    expect(fx.sends.length + fx.penalties.length).toBe(0);
    // the same vote with another signature is checked, and a bad one penalised
    const forged = { ...v1, signature: t.signers[2]!.sign(voteSignBytes(CHAIN, v1)) };
    const fx2 = emptyEffects();
    onNet(first, 'peer-z', envelope(forged), counting, fx2);
    expect(verified()).toBe(2);
    expect(fx2.penalties.map((p) => p.reason)).toEqual(['bad-signature']);
    // and a wrong type with the same signature is not taken for the counted vote
    const fx3 = emptyEffects();
    onNet(first, 'peer-z', envelope({ ...v1, type: 7 }), counting, fx3);
    expect(fx3.penalties.map((p) => p.reason)).toEqual(['bad-vote-type']);
  });
});

describe('withChanges', () => {
  it('copies every field of the state and sets the changed ones, as a spread would', () => {
    const t = setup();
    const changed = withChanges(t.state, { height: 7n, appRoot: undefined, lastSyncRequest: null });
    expect(changed).toStrictEqual({ ...t.state, height: 7n, appRoot: undefined, lastSyncRequest: null });
    expect(Object.keys(changed)).toEqual(Object.keys(t.state));
    expect(changed).not.toBe(t.state);
    expect(t.state.height).toBe(1n);
  });
});

describe('consensus node: block time', () => {
  it('is the proposer clock, but always after the previous block', () => {
    expect(nextBlockTime(0n, 1234.7)).toBe(1234n);
    expect(nextBlockTime(5000n, 1234)).toBe(5001n);
    expect(nextBlockTime(5000n, 5000)).toBe(5001n);
    expect(nextBlockTime(0n, -3)).toBe(1n);
  });
});
