/**
 * Every record the node writes decodes under the limits it reads with, for the largest blocks
 * consensus accepts (a block of 1000 transactions once wrote a receipts record that no read could
 * decode: `appRoot`, `receipt` and `status` failed for that height forever).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_BLOCK_TX_BYTES, DEFAULT_MAX_TXS_PER_BLOCK } from '../engines/consensus/node.ts';
import { DecryptorStore } from '../engines/decryptor/store.ts';
import { Ledger } from '../engines/executor/ledger.ts';
import type { Receipt } from '../engines/executor/phases.ts';
import { propParams } from '../props/config.ts';
import { MemoryStorage } from '../storage/memory.ts';
import { sha256, toHex } from '../wire/commit.ts';
import type { OrderedBlock } from '../wire/ledger.ts';
import { RECORD_LIMITS } from '../wire/records.ts';
import { bareCommittedBlock } from '../wire/testing.ts';
import { Indexer } from './indexer.ts';

const id = (i: number) => sha256(Uint8Array.of(i & 0xff, i >> 8, 7));

/** An executed height of `n` entries whose receipts carry `reason` and `note` text of the given sizes. */
function executed(n: number, reasonLength: number, noteLength: number) {
  const storage = new MemoryStorage();
  const ledger = new Ledger(storage);
  const indexer = new Indexer(storage);
  const ordered: OrderedBlock = {
    height: 1n,
    blockHash: new Uint8Array(32),
    proposer: new Uint8Array(32),
    charges: [],
    txs: Array.from({ length: n }, (_, i) => ({
      envelope: id(i),
      includedAt: 1n,
      encrypted: i % 2 === 0,
      tx: { tag: 'discarded' as const, value: 'x'.repeat(Math.min(reasonLength, 256)) },
    })),
  };
  const receipts: Receipt[] = ordered.txs.map(() => ({
    accepted: false,
    phase: 'validity',
    reason: 'r'.repeat(reasonLength),
    predicate: 'p'.repeat(64),
    note: 'n'.repeat(noteLength),
    gasUsed: 2 ** 40,
  }));
  indexer.onOrdered(ordered);
  indexer.onReceipts(ledger.seal(1n, receipts, []));
  return { storage, ledger, indexer };
}

describe('stored records decode under the limits the node reads them with', () => {
  it('the receipts and index of a height with twice the largest block (decrypted + plain) read back', () => {
    const n = 2 * DEFAULT_MAX_TXS_PER_BLOCK;
    const { ledger, indexer } = executed(n, 512, 8192);
    const r = ledger.receipts(1n);
    expect(r?.receipts).toHaveLength(n);
    expect(indexer.receipt(id(n - 1))?.receipt.note).toBe('n'.repeat(8192));
    expect(indexer.receipt(id(0))?.index).toBe(0);
  });

  it('property: any height up to that size, any receipt text up to the schema maxima', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 * DEFAULT_MAX_TXS_PER_BLOCK }),
        fc.integer({ min: 0, max: 512 }),
        fc.integer({ min: 0, max: 8192 }),
        (n, reasonLength, noteLength) => {
          const { ledger, indexer } = executed(n, reasonLength, noteLength);
          expect(ledger.receipts(1n)?.receipts.length).toBe(n);
          if (n > 0) expect(indexer.receipt(id(n - 1))?.receipt.reason.length).toBe(reasonLength);
        },
      ),
      propParams('records.receipts-largest-blocks', 8),
    );
  });

  it('a block at the byte and count limits consensus accepts is stored and replayed by the decryptor', () => {
    const each = Math.floor(DEFAULT_MAX_BLOCK_TX_BYTES / DEFAULT_MAX_TXS_PER_BLOCK);
    const txs = Array.from({ length: DEFAULT_MAX_TXS_PER_BLOCK }, (_, i) => new Uint8Array(each).fill(i));
    const store = new DecryptorStore(new MemoryStorage());
    store.saveBlock(bareCommittedBlock('c', 1n, txs));
    const [back] = [...store.blocks()];
    expect(back!.block.txs).toHaveLength(DEFAULT_MAX_TXS_PER_BLOCK);
    expect(toHex(back!.block.txs[999]!)).toBe(toHex(txs[999]!));
    expect(RECORD_LIMITS.maxBytes).toBeGreaterThan(DEFAULT_MAX_BLOCK_TX_BYTES * 2);
  });
});
