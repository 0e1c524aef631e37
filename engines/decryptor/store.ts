/**
 * The decryptor's durable state, over the node's `Storage`:
 *
 *   d/block/<height:8>   each committed block it processed (encoded CommittedBlock)
 *
 * Its state is a pure function of those blocks (and of its secret), so a restarted decryptor
 * replays them to rebuild pending batches, received shares, the DKG transcript and its key share,
 * without re-submitting anything during the replay. A state checkpoint would bound replay time;
 * the simulated and devnet chains are short enough that it is not needed yet.
 */
import { concatBytes, u64be } from '../../storage/prefix.ts';
import type { BatchOp, Storage } from '../../storage/types.ts';
import { CommittedBlock } from '../../wire/ledger.ts';
import { decodeRecord, encodeRecord } from '../../wire/records.ts';

const BLOCK = new TextEncoder().encode('d/block/');

/** The write that logs committed block `cb` (the engine asks for it as an effect). */
export function blockLogWrite(cb: CommittedBlock): BatchOp {
  return {
    op: 'put',
    key: concatBytes(BLOCK, u64be(cb.block.header.height)),
    value: encodeRecord(CommittedBlock, cb),
  };
}

export class DecryptorStore {
  constructor(private readonly storage: Storage) {}

  /** Logs `cb` directly (tools and tests; the engine logs through a write effect). */
  saveBlock(cb: CommittedBlock): void {
    this.storage.batch([blockLogWrite(cb)]);
  }

  /**
   * Processed blocks in height order, decoded under the record limits (a block may hold
   * transactions beyond the codec's default item limit). A corrupt entry is a typed DecodeError,
   * never a wrong state.
   */
  *blocks(): IterableIterator<CommittedBlock> {
    for (const [, value] of this.storage.scan(BLOCK)) yield decodeRecord(CommittedBlock, value);
  }
}
