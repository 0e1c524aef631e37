/**
 * The node's query index (outside the engines, under `i/` in the node's storage): which height
 * executed which envelope, so a receipt can be found by the envelope hash.
 *
 *   i/ordered/<height:8>  the envelope entries the decryptor handed the executor at that height
 *   i/tx/<hash>           (execution height, position) of an envelope's receipt
 *   i/h                   the highest height indexed
 *
 * The ordered entries are logged when they leave the decryptor, the receipts are read back from
 * the executor's ledger (x/r/<height>), so a crash between the two is repaired at the next start.
 */
import { Ledger } from '../engines/executor/ledger.ts';
import type { BlockReceipts } from '../engines/executor/ports.ts';
import { concatBytes, u64be } from '../storage/prefix.ts';
import type { BatchOp, Storage } from '../storage/types.ts';
import { toHex } from '../wire/commit.ts';
import { Hash, MAX_TXS_PER_BLOCK, type OrderedBlock } from '../wire/ledger.ts';
import { decodeRecord, encodeRecord } from '../wire/records.ts';
import { type Infer, s } from '../wire/schema.ts';

const enc = new TextEncoder();
const ORDERED = enc.encode('i/ordered/');
const TX = enc.encode('i/tx/');
const LAST = enc.encode('i/h');

const OrderedEntries = s.list(s.struct({ envelope: Hash, includedAt: s.u64(), encrypted: s.bool() }), {
  max: 2 * MAX_TXS_PER_BLOCK,
});
const TxLocation = s.struct({ height: s.u64(), index: s.u32() });

export interface TxReceipt {
  hash: Uint8Array;
  /** the height at which it was executed */
  height: bigint;
  index: number;
  /** the height whose block carried it */
  includedAt: bigint;
  encrypted: boolean;
  receipt: Infer<typeof BlockReceipts>['receipts'][number];
}

export class Indexer {
  /** the executor's ledger, read only (executed height, receipts, roots) */
  readonly ledger: Ledger;

  constructor(private readonly storage: Storage) {
    this.ledger = new Ledger(storage);
    this.repair();
  }

  lastIndexed(): bigint {
    const raw = this.storage.read(LAST);
    return raw === undefined ? 0n : new DataView(raw.buffer, raw.byteOffset).getBigUint64(0);
  }

  /** The decryptor handed the executor this block (before it executes). */
  onOrdered(b: OrderedBlock): void {
    const entries = b.txs.map((t) => ({
      envelope: t.envelope,
      includedAt: t.includedAt,
      encrypted: t.encrypted,
    }));
    this.storage.write(concatBytes(ORDERED, u64be(b.height)), encodeRecord(OrderedEntries, entries));
  }

  /**
   * The executor sealed a height: index its envelopes; returns their hex hashes in execution order,
   * each marked `first` when this is the envelope's first receipt. An envelope keeps the location
   * of its first receipt: a copy a later block carries again (a replay, refused at execution) gets
   * a receipt of its own in that block but never takes the envelope's hash, so `receipt` answers
   * with what really executed.
   */
  onReceipts(r: BlockReceipts): { hash: string; first: boolean }[] {
    const raw = this.storage.read(concatBytes(ORDERED, u64be(r.height)));
    const entries = raw === undefined ? [] : decodeRecord(OrderedEntries, raw);
    const ops: BatchOp[] = [];
    const located = new Set<string>();
    const hashes = entries.map((e, index) => {
      const hash = toHex(e.envelope);
      const key = concatBytes(TX, e.envelope);
      const first = !located.has(hash) && this.storage.read(key) === undefined;
      if (first) ops.push({ op: 'put', key, value: encodeRecord(TxLocation, { height: r.height, index }) });
      located.add(hash);
      return { hash, first };
    });
    if (r.height > this.lastIndexed()) ops.push({ op: 'put', key: LAST, value: u64be(r.height) });
    this.storage.batch(ops);
    return hashes;
  }

  /** Indexes heights the executor sealed after the last indexed one (a crash came between). */
  private repair(): void {
    for (let h = this.lastIndexed() + 1n; ; h++) {
      const r = this.ledger.receipts(h);
      if (r === undefined) return;
      this.onReceipts(r);
    }
  }

  receipt(hash: Uint8Array): TxReceipt | undefined {
    const loc = this.storage.read(concatBytes(TX, hash));
    if (loc === undefined) return undefined;
    const { height, index } = decodeRecord(TxLocation, loc);
    const rs = this.ledger.receipts(height);
    const raw = this.storage.read(concatBytes(ORDERED, u64be(height)));
    if (rs === undefined || raw === undefined) return undefined;
    const e = decodeRecord(OrderedEntries, raw)[index];
    const receipt = rs.receipts[index];
    if (e === undefined || receipt === undefined) return undefined;
    return { hash, height, index, includedAt: e.includedAt, encrypted: e.encrypted, receipt };
  }
}
