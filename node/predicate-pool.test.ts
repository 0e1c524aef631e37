/**
 * Swap intent expiry with predicates on worker threads: the workers see the executing block's
 * height as in-process evaluation does, on the wave-parallel path and through the sharded
 * executor's predicate port, so a settlement gets the same verdict on every path.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { SignedSwapIntent } from '../apps/swap/format.ts';
import { swapNote, swapTx } from '../apps/swap/settlement.ts';
import { held, intentOf, storeWith, users, X, Y } from '../apps/swap/testing.ts';
import { nodeMultievaluate } from '../assembly/vm.ts';
import { executeOrderedSerial, executeSerial } from '../engines/executor/block.ts';
import { Ledger } from '../engines/executor/ledger.ts';
import { Transaction } from '../engines/executor/notes.ts';
import { executeParallel } from '../engines/executor/parallel.ts';
import {
  calculationPhase,
  evaluateJob,
  lookupPhase,
  type PredicateJob,
  validityJobs,
} from '../engines/executor/phases.ts';
import { sealedByShards } from '../engines/executor/testing.ts';
import type { MemoryStorage } from '../storage/memory.ts';
import type { EvalResult } from '../vm/types.ts';
import { toHex } from '../wire/commit.ts';
import type { OrderedBlock } from '../wire/ledger.ts';
import { encode } from '../wire/schema.ts';
import { V } from '../wire/types.ts';
import { chunkBounds, predicatePool } from './predicate-pool.ts';

const GAS = 10_000_000;
const [alice, bob] = users as [(typeof users)[0], (typeof users)[0]];
const a1 = held(alice, X, 100n, 'a1');
const b1 = held(bob, Y, 80n, 'b1');
const store = () => storeWith([a1, b1]);
const out = (who: typeof alice, asset: typeof X, amount: bigint, k: number) =>
  swapNote(who.publicKey, asset, amount, new Uint8Array(32).fill(k));
/** Alice sells 100 X for 60 Y, Bob 60 Y (of his 80) for 100 X, under the intents given. */
const settle = (alices: SignedSwapIntent, bobs: SignedSwapIntent) =>
  swapTx([a1, b1], [out(alice, Y, 60n, 1), out(bob, X, 100n, 2), out(bob, Y, 20n, 3)], [alices, bobs], []);
const aliceUntil = (expires: bigint) => intentOf(alice, [a1], { give: [X, 100n], want: [Y, 50n], expires });
const bobs = intentOf(bob, [b1], { give: [Y, 60n], want: [X, 100n], partial: true });

describe('swap expiry with predicates on worker threads', () => {
  const pool = predicatePool(2);
  afterAll(() => pool.close());

  it('the wave-parallel path on 2 workers: accepted up to the expiry height, refused after, as serially', async () => {
    const tx = settle(aliceUntil(100n), bobs);
    for (const height of [99n, 100n, 101n]) {
      const serial = executeSerial([tx], store(), nodeMultievaluate, GAS, height);
      expect(serial.receipts[0]!.accepted).toBe(height <= 100n);
      const workers = await executeParallel([tx], store(), nodeMultievaluate, GAS, pool.runner, height);
      expect(workers.receipts).toEqual(serial.receipts);
      expect(workers.writes).toEqual(serial.writes);
    }
  });

  it('chunks handed out as workers free up come back in job order, as evaluated in process', async () => {
    // one settlement's jobs at 300 heights (expiring at 150): far more chunks than are in flight
    const tx = settle(aliceUntil(150n), bobs);
    const s = store();
    const looked = lookupPhase(tx, s, nodeMultievaluate, GAS);
    if (!looked.ok) throw new Error('lookup failed');
    const calc = calculationPhase(tx, looked.value, nodeMultievaluate, GAS, looked.gasUsed);
    if (!calc.ok) throw new Error('calculation failed');
    const jobs: PredicateJob[] = [];
    for (let h = 0n; h < 300n; h++) {
      const js = validityJobs(tx, looked.value, calc.value, s, GAS, calc.gasUsed, h);
      if (!js.ok) throw new Error('no jobs');
      jobs.push(...js.value);
    }
    expect(chunkBounds(jobs.length, 2).length).toBeGreaterThan(4);
    const here = jobs.map((j) => evaluateJob(j, nodeMultievaluate));
    const there = await pool.runner(jobs);
    const verdict = (r: EvalResult) => [r.gasUsed, r.ok && JSON.stringify(r.value)];
    expect(there.map(verdict)).toEqual(here.map(verdict));
    expect(new Set(here.map((r) => r.ok && JSON.stringify(r.value)))).toEqual(
      new Set([JSON.stringify(V.bool(true)), JSON.stringify(V.bool(false))]),
    );
  });

  it('the sharded executor with predicates on 2 workers judges by the block height, as executeOrderedSerial', async () => {
    // block 1: an intent expiring at 1 may settle in it, one expiring at 0 may not
    const txs = [settle(aliceUntil(0n), bobs), settle(aliceUntil(1n), bobs)];
    const ordered: OrderedBlock = {
      height: 1n,
      blockHash: new Uint8Array(32),
      proposer: new Uint8Array(32),
      charges: [],
      txs: txs.map((tx, i) => ({
        envelope: new Uint8Array(32).fill(i),
        includedAt: 1n,
        encrypted: false,
        tx: { tag: 'ok' as const, value: encode(Transaction, tx) },
      })),
    };
    const storage = store().storage as MemoryStorage;
    const reference = new Ledger(storage.clone());
    const serial = executeOrderedSerial(ordered, reference.notes, nodeMultievaluate, GAS);
    expect(serial.receipts.map((r) => r.accepted)).toEqual([false, true]);
    expect(serial.receipts[0]).toMatchObject({ phase: 'validity' });
    const expected = reference.seal(1n, serial.receipts, serial.writes);

    const got = await sealedByShards(storage.clone(), ordered, {
      shards: 2,
      mev: nodeMultievaluate,
      gasLimit: GAS,
      runner: pool.runner,
    });
    expect(got).toEqual(expected);
    expect(toHex(got.root)).toBe(toHex(expected.root));
  });
});
