/**
 * Sealing an executed block: the Merkle state root over every unspent note, and, in one atomic
 * batch, the tree's new nodes and root, the notes consumed and created, the spent set, the block's
 * receipts and the executed height. (The tree update is also idempotent: the same changes give the
 * same root, so re-executing a block after a crash repairs exactly what it would have written.)
 *
 *   x/h                 last executed height (u64 big-endian)
 *   x/r/<height:8>      that height's receipts (BlockReceipts)
 *   smt/...             the sparse Merkle tree (storage/merkle.ts)
 */
import { SparseMerkleTree } from '../../storage/merkle.ts';
import { concatBytes, u64be } from '../../storage/prefix.ts';
import type { BatchOp, Storage } from '../../storage/types.ts';
import { decode, encode } from '../../wire/schema.ts';
import { Note } from './notes.ts';
import type { Receipt, WriteSet } from './phases.ts';
import { BlockReceipts, type ReceiptWire } from './ports.ts';
import { NoteStore } from './state.ts';

const enc = new TextEncoder();
const HEIGHT = enc.encode('x/h');
const RECEIPTS = enc.encode('x/r/');

function receiptsKey(height: bigint): Uint8Array {
  return concatBytes(RECEIPTS, u64be(height));
}

export function toWire(r: Receipt): ReceiptWire {
  return {
    accepted: r.accepted,
    phase: r.phase,
    reason: r.reason,
    predicate: r.predicate ?? null,
    note: r.note ?? null,
    gasUsed: BigInt(r.gasUsed),
  };
}

export class Ledger {
  readonly notes: NoteStore;
  readonly tree: SparseMerkleTree;

  constructor(readonly storage: Storage) {
    this.notes = new NoteStore(storage);
    this.tree = new SparseMerkleTree(storage, { namespace: enc.encode('smt/') });
  }

  executedHeight(): bigint {
    const raw = this.storage.read(HEIGHT);
    return raw === undefined ? 0n : new DataView(raw.buffer, raw.byteOffset, 8).getBigUint64(0);
  }

  receipts(height: bigint): BlockReceipts | undefined {
    const raw = this.storage.read(receiptsKey(height));
    return raw === undefined ? undefined : decode(BlockReceipts, raw);
  }

  /** Seals height `height`; returns the state root after it. */
  seal(height: bigint, receipts: readonly Receipt[], writes: readonly WriteSet[]): BlockReceipts {
    const changes: { key: Uint8Array; value: Uint8Array | null }[] = [];
    for (const w of writes) {
      for (const key of w.consume) changes.push({ key, value: null });
      for (const c of w.create) changes.push({ key: c.key, value: encode(Note, c.note) });
    }
    const staged = changes.length === 0 ? undefined : this.tree.stage(changes);
    const root = staged === undefined ? this.tree.root() : staged.root;
    const record: BlockReceipts = { height, root, receipts: receipts.map(toWire) };
    const ops: BatchOp[] = staged === undefined ? [] : [...staged.ops];
    for (const op of NoteStore.ops(writes)) ops.push(op);
    ops.push({ op: 'put', key: receiptsKey(height), value: encode(BlockReceipts, record) });
    ops.push({ op: 'put', key: HEIGHT, value: u64be(height) });
    this.storage.batch(ops);
    if (staged !== undefined) this.tree.applied(staged);
    return record;
  }
}
