/**
 * Executing a block: serially in block order, or wave by wave across shards (see schedule.ts).
 * Both produce the same receipts and the same write sets in the same order; only the second may
 * evaluate the transactions of one wave concurrently.
 */
import { Random } from '../../runtime/random.ts';
import { toHex } from '../../wire/commit.ts';
import type { OrderedBlock } from '../../wire/ledger.ts';
import { tryDecode } from '../../wire/schema.ts';
import { type BlockFees, chargeBlock, feeRefusal, NO_FEES } from './fees.ts';
import { Transaction } from './notes.ts';
import { executeTransaction, type Multievaluate, type Receipt, type WriteSet } from './phases.ts';
import { waves } from './schedule.ts';
import { type NoteStore, Overlay } from './state.ts';

export interface BlockResult {
  readonly receipts: Receipt[];
  /** Write sets of accepted transactions, in block order. */
  readonly writes: WriteSet[];
}

/**
 * `height`: the executing block's height, which predicates see in their view (phases.ts TxView);
 * a bare list of transactions outside any block runs at 0.
 */
export function executeSerial(
  txs: readonly Transaction[],
  store: NoteStore,
  multievaluate: Multievaluate,
  gasLimit: number,
  height = 0n,
): BlockResult {
  const overlay = new Overlay(store);
  const receipts: Receipt[] = [];
  const writes: WriteSet[] = [];
  for (const tx of txs) {
    const r = executeTransaction(tx, overlay, multievaluate, gasLimit, height);
    receipts.push(r.receipt);
    if (r.writes !== undefined) {
      overlay.apply(r.writes);
      writes.push(r.writes);
    }
  }
  return { receipts, writes };
}

/**
 * Wave-parallel execution over `shards` shards: each wave's transactions are dealt to shards,
 * each shard runs its share in an order of its own (seeded, to show order inside a wave does
 * not matter), all against the state at the start of the wave; then the wave's writes are
 * applied in block order. `height` as for `executeSerial`.
 */
export function executeSharded(
  txs: readonly Transaction[],
  store: NoteStore,
  multievaluate: Multievaluate,
  gasLimit: number,
  shards: number,
  seed = 0,
  height = 0n,
): BlockResult {
  if (!Number.isInteger(shards) || shards < 1)
    throw new RangeError(`shards must be a positive integer, got ${shards}`);
  const random = new Random(`shards:${seed}`);
  const overlay = new Overlay(store);
  const results = new Array<{ receipt: Receipt; writes: WriteSet | undefined }>(txs.length);
  for (const wave of waves(txs)) {
    const byShard: number[][] = Array.from({ length: shards }, () => []);
    for (const [k, index] of wave.entries()) byShard[k % shards]!.push(index);
    for (const share of byShard) {
      for (const index of random.shuffle(share)) {
        results[index] = executeTransaction(txs[index]!, overlay, multievaluate, gasLimit, height);
      }
    }
    for (const index of wave) {
      const w = results[index]!.writes;
      if (w !== undefined) overlay.apply(w);
    }
  }
  const receipts = results.map((r) => r.receipt);
  const writes = results.flatMap((r) => (r.writes === undefined ? [] : [r.writes]));
  return { receipts, writes };
}

/** One entry of an ordered block, decoded: a transaction to execute, or its receipt already. */
export type Prepared = { tx: Transaction; receipt: null } | { tx: null; receipt: Receipt };

/**
 * Decodes an ordered block's entries: a discarded one gets a rejection receipt in phase 'decrypt'
 * with the decryptor's reason, one whose fee was not paid (`fees`, from `chargeBlock`) one in
 * phase 'fee', bytes that are not a transaction one in phase 'decode'; none of them is executed.
 */
export function prepareOrdered(block: OrderedBlock, fees: BlockFees = NO_FEES): Prepared[] {
  return block.txs.map((entry): Prepared => {
    if (entry.tx.tag === 'discarded') {
      return { tx: null, receipt: { accepted: false, phase: 'decrypt', reason: entry.tx.value, gasUsed: 0 } };
    }
    const refusal = feeRefusal(fees, toHex(entry.envelope), entry.includedAt, block.height);
    if (refusal !== undefined) return { tx: null, receipt: refusal };
    const d = tryDecode(Transaction, entry.tx.value);
    if (d.ok) return { tx: d.value, receipt: null };
    return {
      tx: null,
      receipt: {
        accepted: false,
        phase: 'decode',
        reason: `not a transaction: ${d.error.message}`,
        gasUsed: 0,
      },
    };
  });
}

/**
 * Serial execution of an ordered block: its fees charged (`chargeBlock`), then `executeSerial` over
 * its executable entries, with the receipts of discarded, unpaid and undecodable entries in their
 * positions. The reference every engine configuration must agree with; seal the result with
 * `Ledger.seal(block.height, receipts, writes, fees)`.
 */
export function executeOrderedSerial(
  block: OrderedBlock,
  store: NoteStore,
  multievaluate: Multievaluate,
  gasLimit: number,
): BlockResult & { fees: BlockFees } {
  const fees = chargeBlock(store.storage, block);
  const prepared = prepareOrdered(block, fees);
  const txs = prepared.flatMap((p) => (p.tx === null ? [] : [p.tx]));
  const run = executeSerial(txs, store, multievaluate, gasLimit, block.height);
  let next = 0;
  const receipts = prepared.map((p) => p.receipt ?? run.receipts[next++]!);
  return { receipts, writes: run.writes, fees };
}
