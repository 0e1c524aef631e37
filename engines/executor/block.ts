/**
 * Executing a block: serially in block order, or wave by wave across shards (see schedule.ts).
 * Both produce the same receipts and the same write sets in the same order; only the second may
 * evaluate the transactions of one wave concurrently.
 */
import { Random } from '../../runtime/random.ts';
import type { Transaction } from './notes.ts';
import { executeTransaction, type Multievaluate, type Receipt, type WriteSet } from './phases.ts';
import { waves } from './schedule.ts';
import { type NoteStore, Overlay } from './state.ts';

export interface BlockResult {
  readonly receipts: Receipt[];
  /** Write sets of accepted transactions, in block order. */
  readonly writes: WriteSet[];
}

export function executeSerial(
  txs: readonly Transaction[],
  store: NoteStore,
  multievaluate: Multievaluate,
  gasLimit: number,
): BlockResult {
  const overlay = new Overlay(store);
  const receipts: Receipt[] = [];
  const writes: WriteSet[] = [];
  for (const tx of txs) {
    const r = executeTransaction(tx, overlay, multievaluate, gasLimit);
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
 * applied in block order.
 */
export function executeSharded(
  txs: readonly Transaction[],
  store: NoteStore,
  multievaluate: Multievaluate,
  gasLimit: number,
  shards: number,
  seed = 0,
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
        results[index] = executeTransaction(txs[index]!, overlay, multievaluate, gasLimit);
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
