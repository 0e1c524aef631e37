/**
 * Sealing an executed block: the Merkle state root over every unspent note, and, in one atomic
 * batch, the tree's new nodes and root, the notes consumed and created, the spent set, the block's
 * receipts and the executed height. (The tree update is also idempotent: the same changes give the
 * same root, so re-executing a block after a crash repairs exactly what it would have written.)
 *
 *   x/h                 last executed height (u64 big-endian)
 *   x/r/<height:8>      that height's receipts (BlockReceipts)
 *   x/fee/..., x/nonce/..., x/unpaid/...   fee accounts and used nonces (wire/fees.ts, fees.ts)
 *   smt/...             the sparse Merkle tree (storage/merkle.ts): notes and fee accounts
 */
import { MemoryStorage } from '../../storage/memory.ts';
import { type MerkleChange, SparseMerkleTree } from '../../storage/merkle.ts';
import { concatBytes, u64be } from '../../storage/prefix.ts';
import type { BatchOp, Storage } from '../../storage/types.ts';
import {
  EXECUTED_HEIGHT_KEY,
  type FeeAccount,
  NONCE_BY_EXPIRY_PREFIX,
  nonceExpiryKey,
} from '../../wire/fees.ts';
import { decodeRecord, encodeRecord } from '../../wire/records.ts';
import { encode } from '../../wire/schema.ts';
import { type BlockFees, feeWrites, genesisFeeWrites, NO_FEES } from './fees.ts';
import { Note } from './notes.ts';
import type { Receipt, WriteSet } from './phases.ts';
import { BlockReceipts, type ReceiptWire } from './ports.ts';
import { NoteStore } from './state.ts';

const enc = new TextEncoder();
const HEIGHT = EXECUTED_HEIGHT_KEY;
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
    return raw === undefined ? undefined : decodeRecord(BlockReceipts, raw);
  }

  /**
   * Seals height `height`: its receipts, the write sets of its accepted transactions and what its
   * fees changed, in one atomic batch; returns the receipts record (with the state root after it).
   */
  seal(
    height: bigint,
    receipts: readonly Receipt[],
    writes: readonly WriteSet[],
    fees: BlockFees = NO_FEES,
  ): BlockReceipts {
    const changes: MerkleChange[] = [];
    for (const w of writes) {
      for (const key of w.consume) changes.push({ key, value: null });
      for (const c of w.create) changes.push({ key: c.key, value: encode(Note, c.note) });
    }
    const fee = feeWrites(fees, height, this.expiredNonces(height));
    for (const leaf of fee.leaves) changes.push(leaf);
    const staged = changes.length === 0 ? undefined : this.tree.stage(changes);
    const root = staged === undefined ? this.tree.root() : staged.root;
    const record: BlockReceipts = { height, root, receipts: receipts.map(toWire) };
    const ops: BatchOp[] = staged === undefined ? [] : [...staged.ops];
    for (const op of NoteStore.ops(writes)) ops.push(op);
    for (const op of fee.ops) ops.push(op);
    ops.push({ op: 'put', key: receiptsKey(height), value: encodeRecord(BlockReceipts, record) });
    ops.push({ op: 'put', key: HEIGHT, value: u64be(height) });
    this.storage.batch(ops);
    if (staged !== undefined) this.tree.applied(staged);
    return record;
  }

  /** Keys of nonce records whose envelope expired by `height` (no later block may carry it). */
  private expiredNonces(height: bigint): Uint8Array[] {
    const end = nonceExpiryKey(height + 1n, new Uint8Array(32), 0n);
    const out: Uint8Array[] = [];
    for (const [key] of this.storage.scan(NONCE_BY_EXPIRY_PREFIX, { end })) out.push(key);
    return out;
  }

  /**
   * Writes the genesis state (the fee accounts) into an empty ledger; returns the state root. A
   * ledger that has executed a height, or holds any state already, is left as it is.
   */
  seedGenesis(accounts: readonly FeeAccount[]): Uint8Array {
    if (this.executedHeight() > 0n) return this.tree.root();
    const { ops, leaves } = genesisFeeWrites(accounts);
    if (leaves.length === 0) return this.tree.root();
    const staged = this.tree.stage(leaves);
    this.storage.batch([...staged.ops, ...ops]);
    this.tree.applied(staged);
    return staged.root;
  }
}

/** The state root of a genesis: what height 1's header commits to as the state before it. */
export function genesisRoot(accounts: readonly FeeAccount[]): Uint8Array {
  return new Ledger(new MemoryStorage()).seedGenesis(accounts);
}
