/**
 * Sealing an executed block: the Merkle state root over every unspent note, then, in one atomic
 * batch, the notes consumed and created, the spent set, the block's receipts and the executed
 * height. The tree update comes first and is idempotent (the same changes give the same root), so
 * a crash between the two leaves a state that re-executing the block repairs exactly.
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
    const changes = writes.flatMap((w) => [
      ...w.consume.map((key) => ({ key, value: null })),
      ...w.create.map((c) => ({ key: c.key, value: encode(Note, c.note) })),
    ]);
    const root = changes.length === 0 ? this.tree.root() : this.tree.update(changes);
    const record: BlockReceipts = { height, root, receipts: receipts.map(toWire) };
    const ops: BatchOp[] = [
      ...NoteStore.ops(writes),
      { op: 'put', key: receiptsKey(height), value: encode(BlockReceipts, record) },
      { op: 'put', key: HEIGHT, value: u64be(height) },
    ];
    this.storage.batch(ops);
    return record;
  }
}
