/**
 * scaling.<path>: no quadratic work in block size (issue 16). Each path is timed on a block of n
 * transactions and on one of 2n, in the same run; linear work doubles. The value is
 * time(2n) / time(n) and the ratio is that over 2 (the linear limit): goal ratio <= 1.25, i.e. the
 * time at most doubles plus a quarter for what does not shrink with n (caches, allocation).
 *
 * - scaling.propose: a proposer builds, signs and encodes its block from the mempool's batch
 *   (consensus node.ts, build deadline).
 * - scaling.proposal: a validator decodes that proposal, checks its signature and block (the
 *   transaction hash, the limits, each transaction against the committed ones) and prevotes.
 * - scaling.executor: the executor runs the block's transfers and seals them (four phases,
 *   predicates, notes, Merkle root) on SQLite.
 *
 * Each time is the fastest of several runs on fresh state, the two sizes alternating so that both
 * see the same machine (garbage collection and other processes make single runs of a few ms noisy).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONSENSUS_LIMITS, NetEnvelope } from '../engines/consensus/messages.ts';
import {
  type ConsensusConfig,
  type Env,
  emptyEffects,
  initialState,
  onNet,
  onTimeout,
  onTxs,
} from '../engines/consensus/node.ts';
import { proposerOf } from '../engines/consensus/round.ts';
import { ConsensusStore } from '../engines/consensus/store.ts';
import { SimKeyring } from '../sim/signer.ts';
import { MemoryStorage } from '../storage/memory.ts';
import { SqliteStorage } from '../storage/sqlite.ts';
import { decode } from '../wire/schema.ts';
import { fastestAlternating, report } from './report.ts';
import { prepare, runBlock } from './token-block.ts';

/** Runs of each size, alternating between the sizes (the fastest of each counts). */
const RUNS = 12;

function reportScaling(name: string, n: number, tn: number, t2n: number): void {
  const growth = t2n / tn;
  report({
    name: `scaling.${name}`,
    value: growth,
    unit: 'x',
    ratio: growth / 2,
    vs: `linear(${2 * n}-over-${n}-txs:${(tn * 1000).toFixed(1)}ms-to-${(t2n * 1000).toFixed(1)}ms)`,
  });
}

/** Four validators of one power; `self` is the one whose node is set up. */
function consensusSetup(self: 'proposer' | 'validator') {
  const keyring = new SimKeyring();
  const signers = [0, 1, 2, 3].map((i) => keyring.signer(`scaling v${i}`));
  const cfg: ConsensusConfig = {
    chainId: 'scaling',
    validators: signers.map((s) => ({ publicKey: s.publicKey, power: 1 })),
    genesisAppRoot: new Uint8Array(32),
    blockInterval: 100,
    maxTxsPerBlock: 100_000,
  };
  // which index proposes round 0 of height 1 does not depend on who asks
  const probe = initialState(cfg, {
    signer: undefined,
    verify: keyring.verify,
    store: new ConsensusStore(new MemoryStorage()),
    now: 0,
  }).state;
  // indices are positions in the validator set, which orders validators by key
  const proposer = proposerOf(probe.round, 0);
  const keyAt = (i: number) => probe.validators.validators[i]!.publicKey;
  const wanted = keyAt(self === 'proposer' ? proposer : (proposer + 1) % 4);
  const signer = signers.find((s) => s.publicKey.every((b, i) => b === wanted[i]))!;
  const fresh = () => {
    const env = (now: number): Env => ({
      signer,
      verify: keyring.verify,
      store: new ConsensusStore(new MemoryStorage()),
      now,
    });
    return { state: initialState(cfg, env(0)).state, env };
  };
  return { fresh };
}

/** A mempool batch of n distinct 200-byte transactions. */
function batch(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const tx = new Uint8Array(200);
    new DataView(tx.buffer).setUint32(0, i);
    return tx;
  });
}

/** Builds the proposal for a batch of n (timed), returns the time and the proposal's bytes. */
function propose(n: number): { seconds: number; proposal: Uint8Array } {
  const { state, env } = consensusSetup('proposer').fresh();
  const withTxs = onTxs(state, batch(n));
  const fx = emptyEffects();
  const t0 = performance.now();
  onTimeout(withTxs, 'build/1/0', env(100), fx);
  const seconds = (performance.now() - t0) / 1000;
  const proposal = fx.sends.find(
    (m) => decode(NetEnvelope, m.bytes, CONSENSUS_LIMITS).message.tag === 'proposal',
  )?.bytes;
  if (proposal === undefined) throw new Error('scaling: the proposer built no proposal');
  return { seconds, proposal };
}

/** A validator receiving the proposal (timed). */
function receive(proposal: Uint8Array, n: number): number {
  const { state, env } = consensusSetup('validator').fresh();
  const fx = emptyEffects();
  const t0 = performance.now();
  const next = onNet(state, 'proposer', proposal, env(1), fx);
  const seconds = (performance.now() - t0) / 1000;
  const block = Object.values(next.blocks)[0];
  if (fx.penalties.length > 0 || block?.txs.length !== n)
    throw new Error(`scaling: the proposal of ${n} was not taken (${fx.penalties[0]?.reason ?? 'no block'})`);
  return seconds;
}

let ledgers = 0;

/** The executor on a block of n transfers (timed), on a fresh ledger. */
function execute(dir: string, n: number): number {
  const storage = SqliteStorage.open(join(dir, `scaling-${ledgers++}.sqlite`));
  try {
    const { ledger, txs } = prepare(storage, n);
    return runBlock(ledger, txs).seconds;
  } finally {
    storage.close();
  }
}

export default async function scalingBench(): Promise<void> {
  const n = 2_000;
  // warm both paths (the JIT, the codec's slabs) on a small block first
  receive(propose(200).proposal, 200);
  const small = propose(n).proposal;
  const large = propose(2 * n).proposal;
  const [pn, p2n] = await fastestAlternating(
    RUNS,
    () => propose(n).seconds,
    () => propose(2 * n).seconds,
  );
  reportScaling('propose', n, pn, p2n);
  const [rn, r2n] = await fastestAlternating(
    RUNS,
    () => receive(small, n),
    () => receive(large, 2 * n),
  );
  reportScaling('proposal', n, rn, r2n);

  const dir = mkdtempSync(join(tmpdir(), 'fractal-bench-scaling-'));
  try {
    const m = 500;
    execute(dir, 100);
    const [en, e2n] = await fastestAlternating(
      3,
      () => execute(dir, m),
      () => execute(dir, 2 * m),
    );
    reportScaling('executor', m, en, e2n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
