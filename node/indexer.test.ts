import { describe, expect, it } from 'vitest';
import { Ledger } from '../engines/executor/ledger.ts';
import type { Receipt } from '../engines/executor/phases.ts';
import { MemoryStorage } from '../storage/memory.ts';
import { sha256, toHex } from '../wire/commit.ts';
import type { OrderedBlock } from '../wire/ledger.ts';
import { Indexer } from './indexer.ts';

const X = sha256(Uint8Array.of(1));
const Y = sha256(Uint8Array.of(2));

function height(h: bigint, envelopes: Uint8Array[]): OrderedBlock {
  return {
    height: h,
    blockHash: new Uint8Array(32),
    proposer: new Uint8Array(32),
    charges: [],
    txs: envelopes.map((envelope) => ({
      envelope,
      includedAt: h,
      encrypted: false,
      tx: { tag: 'ok' as const, value: Uint8Array.of(0) },
    })),
  };
}

const accepted: Receipt = { accepted: true, phase: 'commit', reason: '', gasUsed: 5 };
const replay: Receipt = { accepted: false, phase: 'decrypt', reason: 'replay', gasUsed: 0 };

describe('the query index', () => {
  it("keeps an envelope's first receipt: a later block carrying it again never overwrites it", () => {
    const storage = new MemoryStorage();
    const ledger = new Ledger(storage);
    const indexer = new Indexer(storage);
    indexer.onOrdered(height(1n, [X]));
    expect(indexer.onReceipts(ledger.seal(1n, [accepted], []))).toEqual([{ hash: toHex(X), first: true }]);
    // height 2 carries X again (a replay the decryptor discarded) and, twice, Y
    indexer.onOrdered(height(2n, [Y, X, Y]));
    const second = indexer.onReceipts(ledger.seal(2n, [accepted, replay, replay], []));
    expect(second.map((e) => e.first)).toEqual([true, false, false]);
    expect(indexer.receipt(X)).toMatchObject({ height: 1n, index: 0, receipt: { accepted: true } });
    expect(indexer.receipt(Y)).toMatchObject({ height: 2n, index: 0, receipt: { accepted: true } });
    // a restart's repair indexes nothing anew
    expect(new Indexer(storage).receipt(X)).toMatchObject({ height: 1n, receipt: { accepted: true } });
  });
});
