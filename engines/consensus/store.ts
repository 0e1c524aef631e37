/**
 * Consensus's durable state, over the node's `Storage` (handed in by the runtime):
 *
 *   c/wal/<height:8><round:4><kind:1>  the exact bytes this node signed (write-ahead: logged before sent)
 *   c/block/<height:8>                 committed block + certificate (what block sync serves)
 *   c/root/<height:8>                  the application state root after that height
 *   c/valset/<height:8>                the validator set from that height on (until the next entry)
 *   c/tx/<sha256 of tx>                the height that committed a transaction (no block may carry it again)
 *
 * The signing guard is the WAL: before signing a (height, round, kind) the engine asks for what it
 * already signed there; it re-sends those bytes instead of signing anything else, so a restarted
 * node never signs two different messages for one step. Committing a height writes the block and
 * prunes the WAL below it in one atomic batch, with the index of its transactions.
 */
import { concatBytes as concat, u32be, u64be } from '../../storage/prefix.ts';
import { type BatchOp, type Storage, StorageError } from '../../storage/types.ts';

export type SignedKind = 0 | 1 | 2; // proposal, prevote, precommit
export const KIND_PROPOSAL: SignedKind = 0;
export const KIND_PREVOTE: SignedKind = 1;
export const KIND_PRECOMMIT: SignedKind = 2;

const enc = new TextEncoder();
const WAL = enc.encode('c/wal/');
const BLOCK = enc.encode('c/block/');
const ROOT = enc.encode('c/root/');
const VALSET = enc.encode('c/valset/');
const TX = enc.encode('c/tx/');

export interface WalEntry {
  round: number;
  kind: SignedKind;
  bytes: Uint8Array;
}

export class ConsensusStore {
  constructor(private readonly storage: Storage) {}

  private walKey(height: bigint, round: number, kind: SignedKind): Uint8Array {
    return concat(WAL, u64be(height), u32be(round), Uint8Array.of(kind));
  }

  signed(height: bigint, round: number, kind: SignedKind): Uint8Array | undefined {
    return this.storage.read(this.walKey(height, round, kind));
  }

  /** Write-ahead: called before the signed bytes leave the node. */
  logSigned(height: bigint, round: number, kind: SignedKind, bytes: Uint8Array): void {
    this.storage.write(this.walKey(height, round, kind), bytes);
  }

  /** Everything signed at `height`, in (round, kind) order. */
  wal(height: bigint): WalEntry[] {
    const out: WalEntry[] = [];
    for (const [key, value] of this.storage.scan(concat(WAL, u64be(height)))) {
      const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
      const round = view.getUint32(WAL.length + 8);
      const kind = key[WAL.length + 12] as SignedKind;
      out.push({ round, kind, bytes: value });
    }
    return out;
  }

  /**
   * Stores a committed block, indexes its transactions (by sha256, `txIds`) and drops the WAL of
   * every height up to it, atomically.
   */
  commit(height: bigint, committed: Uint8Array, txIds: readonly Uint8Array[] = []): void {
    const ops: BatchOp[] = [{ op: 'put', key: concat(BLOCK, u64be(height)), value: committed }];
    const at = u64be(height);
    for (const id of txIds) ops.push({ op: 'put', key: concat(TX, id), value: at });
    for (const [key] of this.storage.scan(WAL)) {
      const h = new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(WAL.length);
      if (h > height) break;
      ops.push({ op: 'del', key });
    }
    this.storage.batch(ops);
  }

  /** Whether a committed block carried the transaction with this sha256. */
  isCommittedTx(txId: Uint8Array): boolean {
    return this.storage.read(concat(TX, txId)) !== undefined;
  }

  block(height: bigint): Uint8Array | undefined {
    return this.storage.read(concat(BLOCK, u64be(height)));
  }

  /**
   * The committed block at a height the store says is committed (at or below lastHeight()):
   * missing, the database is damaged, and the node must not go on as if it were not.
   */
  committedBlock(height: bigint): Uint8Array {
    const b = this.block(height);
    if (b === undefined) {
      throw new StorageError(
        'corrupt',
        `the block at height ${height} is missing although the store holds blocks up to ${this.lastHeight()}: restore the database from a backup or resync this node`,
      );
    }
    return b;
  }

  /** The highest committed height (0n when none). */
  lastHeight(): bigint {
    for (const [key] of this.storage.scan(BLOCK, { reverse: true, limit: 1 })) {
      return new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(BLOCK.length);
    }
    return 0n;
  }

  setRoot(height: bigint, root: Uint8Array): void {
    this.storage.write(concat(ROOT, u64be(height)), root);
  }

  root(height: bigint): Uint8Array | undefined {
    return this.storage.read(concat(ROOT, u64be(height)));
  }

  /** Records the (encoded) validator set that applies from `height` on. */
  setValidators(height: bigint, encoded: Uint8Array): void {
    this.storage.write(concat(VALSET, u64be(height)), encoded);
  }

  /** The encoded validator set in force at `height`: the latest entry at or below it. */
  validatorsAt(height: bigint): Uint8Array | undefined {
    for (const [, value] of this.storage.scan(VALSET, {
      end: concat(VALSET, u64be(height + 1n)),
      reverse: true,
      limit: 1,
    })) {
      return value;
    }
    return undefined;
  }

  /** validatorsAt, for a height genesis or a commit has set: missing, the database is damaged. */
  requireValidatorsAt(height: bigint): Uint8Array {
    const v = this.validatorsAt(height);
    if (v === undefined) {
      throw new StorageError(
        'corrupt',
        `no validator set is recorded at or below height ${height} (genesis writes one): restore the database from a backup or resync this node`,
      );
    }
    return v;
  }
}
