/**
 * Sealing an executed block: the Merkle state root over every unspent note, and, in one atomic
 * batch, the tree's new nodes and root, the notes consumed and created, the spent set, the block's
 * receipts and the executed height. (The tree update is also idempotent: the same changes give the
 * same root, so re-executing a block after a crash repairs exactly what it would have written.)
 *
 * The engines never write: a step prepares the seal (`prepareSeal`, reads only) and asks for its
 * batch as a `persist` effect, which the runtime applies after the step and before its messages
 * leave. `seal` writes directly, for tools, tests and benchmarks; `seedGenesis` is assembly's,
 * before any engine runs.
 *
 *   x/h                 last executed height (u64 big-endian)
 *   x/r/<height:8>      that height's receipts (BlockReceipts)
 *   x/fee/..., x/nonce/..., x/unpaid/...   fee accounts and used nonces (wire/fees.ts, fees.ts)
 *   smt/...             the sparse Merkle tree (storage/merkle.ts): notes and fee accounts
 */
import { MemoryStorage } from '../../storage/memory.ts';
import { type MerkleChange, SparseMerkleTree, type StagedUpdate } from '../../storage/merkle.ts';
import { bytesEqual, concatBytes, u64be } from '../../storage/prefix.ts';
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

/**
 * The deadline an engine arms, due at once, when blocks wait behind the one it sealed: the step
 * it gives comes after the seal's write, so the next block reads the state the seal wrote.
 */
export function resumeAfter(height: bigint): string {
  return `resume-after-seal-${height}`;
}

/** A block's seal, prepared and not written: the receipts record (with the state root after the block) and the batch that makes it durable. */
export interface PreparedSeal {
  readonly record: BlockReceipts;
  readonly ops: readonly BatchOp[];
}

export class Ledger {
  readonly notes: NoteStore;
  readonly tree: SparseMerkleTree;
  /**
   * The tree update of the last seal prepared, until the stored root says whether its batch was
   * written. Its new nodes join the tree's node cache only then: a batch that failed (the step
   * asking for it failed) leaves nothing in memory that claims it landed.
   */
  #unconfirmed: StagedUpdate | undefined;

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
   * Prepares the seal of height `height` without writing anything: its receipts, the write sets of
   * its accepted transactions and what its fees changed, as one batch, and the receipts record
   * with the state root after it. Prepare the next seal only once this one is written: it starts
   * from the stored state.
   */
  prepareSeal(
    height: bigint,
    receipts: readonly Receipt[],
    writes: readonly WriteSet[],
    fees: BlockFees = NO_FEES,
  ): PreparedSeal {
    this.#confirm();
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
    this.#unconfirmed = staged;
    return { record, ops };
  }

  /**
   * Seals height `height` by writing its prepared batch at once (tools, tests, benchmarks; an
   * engine step asks for the batch as a write effect instead); returns the receipts record.
   */
  seal(
    height: bigint,
    receipts: readonly Receipt[],
    writes: readonly WriteSet[],
    fees: BlockFees = NO_FEES,
  ): BlockReceipts {
    const { record, ops } = this.prepareSeal(height, receipts, writes, fees);
    this.storage.batch(ops);
    this.#confirm();
    return record;
  }

  /**
   * Keeps the last prepared tree update's nodes in memory if the stored root is its root: the
   * batch is atomic, so every node of that tree is then in storage (written by it, or there
   * already). Otherwise the batch failed, or was never asked for: the nodes are forgotten.
   */
  #confirm(): void {
    const staged = this.#unconfirmed;
    if (staged === undefined) return;
    this.#unconfirmed = undefined;
    if (bytesEqual(this.tree.root(), staged.root)) this.tree.applied(staged);
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
   * ledger that has executed a height, or holds any state already, is left as it is. Assembly
   * does this before the engine graph starts, so it is no engine's step.
   */
  seedGenesis(accounts: readonly FeeAccount[]): Uint8Array {
    this.#confirm();
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
