/**
 * Predicates on worker threads: a block of signed token transfers (some invalid, some
 * conflicting) executed with the worker pool equals serial execution, receipt for receipt; and
 * the same through the sharded executor's engine graph on the live scheduler, its predicates
 * leaving the coordinator on its port for the pool.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  defineToken,
  mintTx,
  registerTokenCode,
  signTx,
  type Token,
  transferTx,
} from '../apps/token/index.ts';
import { nodeMultievaluate } from '../assembly/vm.ts';
import { executeOrderedSerial, executeSerial } from '../engines/executor/block.ts';
import { Ledger } from '../engines/executor/ledger.ts';
import { type Note, Transaction } from '../engines/executor/notes.ts';
import { executeParallel, inProcessRunner } from '../engines/executor/parallel.ts';
import { NoteStore } from '../engines/executor/state.ts';
import { sealedByShards } from '../engines/executor/testing.ts';
import { predicatePool } from '../node/predicate-pool.ts';
import { MemoryStorage } from '../storage/memory.ts';
import { sha256, toHex } from '../wire/commit.ts';
import type { OrderedBlock } from '../wire/ledger.ts';
import { encode } from '../wire/schema.ts';
import { keyPairFromSeed } from '../wire/sign.ts';

const seed = (label: string) => sha256(new TextEncoder().encode(label));
const authority = seed('authority');
const token: Token = defineToken(keyPairFromSeed(authority).publicKey);
const users = Array.from({ length: 6 }, (_, i) => seed(`user ${i}`));
const pk = (sk: Uint8Array) => keyPairFromSeed(sk).publicKey;
const GOLD = new Uint8Array(32).fill(7);
const GAS = 10_000_000;

function block(): { store: NoteStore; txs: Transaction[] } {
  const store = new NoteStore(new MemoryStorage());
  registerTokenCode(store, token, users.map(pk));
  // mint 100 to each user in one serial block, then build transfers over the minted notes
  const mint = signTx(
    mintTx(
      token,
      users.map((u) => ({ owner: pk(u), asset: GOLD, amount: 100n })),
      Uint8Array.of(1),
    ),
    [authority],
  );
  const minted = executeSerial([mint], store, nodeMultievaluate, GAS);
  expect(minted.receipts[0]).toMatchObject({ accepted: true });
  store.storage.batch(NoteStore.ops(minted.writes));
  const notes: Note[] = minted.writes[0]!.create.map((c) => c.note);
  const txs: Transaction[] = [];
  notes.forEach((n, i) => {
    const from = users[i]!;
    const to = pk(users[(i + 1) % users.length]!);
    // for half the users an unsigned attempt comes first (rejected by the owner predicate)
    if (i % 2 === 0)
      txs.push(transferTx(token, [n], [{ owner: to, asset: GOLD, amount: 100n }], Uint8Array.of(200 + i)));
    txs.push(
      signTx(transferTx(token, [n], [{ owner: to, asset: GOLD, amount: 100n }], Uint8Array.of(i)), [from]),
    );
    // a double spend of the same note (conflicts with the transfer above: rejected at lookup)
    txs.push(
      signTx(transferTx(token, [n], [{ owner: to, asset: GOLD, amount: 100n }], Uint8Array.of(100 + i)), [
        from,
      ]),
    );
  });
  return { store, txs };
}

describe('executor with predicates on worker threads', () => {
  const pool = predicatePool(2);
  afterAll(() => pool.close());

  it('equals serial execution, receipt for receipt, in process and on 2 workers', async () => {
    const { store, txs } = block();
    const serial = executeSerial(txs, store, nodeMultievaluate, GAS);
    expect(serial.receipts.filter((r) => r.accepted)).toHaveLength(users.length);
    expect(serial.receipts.some((r) => !r.accepted && r.phase === 'validity')).toBe(true);
    const local = await executeParallel(
      txs,
      store,
      nodeMultievaluate,
      GAS,
      inProcessRunner(nodeMultievaluate),
    );
    const workers = await executeParallel(txs, store, nodeMultievaluate, GAS, pool.runner);
    expect(local.receipts).toEqual(serial.receipts);
    expect(workers.receipts).toEqual(serial.receipts);
    expect(workers.writes).toEqual(serial.writes);
  });

  it('the sharded executor engines on the live scheduler, predicates on 2 workers, equal serial execution', async () => {
    const { store, txs } = block();
    const ordered: OrderedBlock = {
      height: 1n,
      blockHash: new Uint8Array(32),
      proposer: new Uint8Array(32),
      charges: [],
      txs: txs.map((tx, i) => ({
        envelope: sha256(Uint8Array.of(i)),
        includedAt: 1n,
        encrypted: false,
        tx: { tag: 'ok' as const, value: encode(Transaction, tx) },
      })),
    };
    const storage = store.storage as MemoryStorage;
    const reference = new Ledger(storage.clone());
    const serial = executeOrderedSerial(ordered, reference.notes, nodeMultievaluate, GAS);
    const expected = reference.seal(1n, serial.receipts, serial.writes);

    const got = await sealedByShards(storage.clone(), ordered, {
      shards: 4,
      mev: nodeMultievaluate,
      gasLimit: GAS,
      runner: pool.runner,
    });
    expect(got).toEqual(expected);
    expect(toHex(got.root)).toBe(toHex(expected.root));
  });
});
