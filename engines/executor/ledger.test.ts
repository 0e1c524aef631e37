import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../storage/memory.ts';
import { Ledger } from './ledger.ts';
import type { Note } from './notes.ts';
import { noteKey } from './notes.ts';

const note = (k: number): Note => ({
  provenance: [],
  application: new Uint8Array(32).fill(1),
  owner: new Uint8Array(32).fill(2),
  key: Uint8Array.of(k),
  value: Uint8Array.of(k),
});

describe('Ledger: sealing prepared as a batch', () => {
  it('prepareSeal writes nothing; the batch it returns is the seal that `seal` writes', () => {
    const writes = [{ consume: [], create: [{ key: noteKey(note(1)), note: note(1) }] }];
    const storage = new MemoryStorage();
    const prepared = new Ledger(storage).prepareSeal(1n, [], writes);
    expect([...storage.scan(new Uint8Array(0))]).toEqual([]);
    const direct = new MemoryStorage();
    expect(new Ledger(direct).seal(1n, [], writes)).toEqual(prepared.record);
    storage.batch(prepared.ops);
    expect([...storage.scan(new Uint8Array(0))]).toEqual([...direct.scan(new Uint8Array(0))]);
    expect(new Ledger(storage).executedHeight()).toBe(1n);
    expect(new Ledger(storage).receipts(1n)).toEqual(prepared.record);
  });

  it('a prepared seal whose batch was not written leaves nothing in memory that claims it landed', () => {
    const storage = new MemoryStorage();
    const ledger = new Ledger(storage);
    const key = noteKey(note(7));
    const writes = [{ consume: [], create: [{ key, note: note(7) }] }];
    const unwritten = ledger.prepareSeal(1n, [], writes);
    // the tree with the unwritten root cannot be read: its nodes are neither stored nor cached
    expect(() => ledger.tree.get(key, unwritten.record.root)).toThrow(/unknown or pruned merkle root/);
    // the retried step prepares it again: the first batch was not written, still nothing claims it
    const again = ledger.prepareSeal(1n, [], writes);
    expect(again.record).toEqual(unwritten.record);
    expect(() => ledger.tree.get(key, unwritten.record.root)).toThrow(/unknown or pruned merkle root/);
    // written, the next preparation sees the stored root and keeps the nodes: no storage read
    storage.batch(again.ops);
    ledger.prepareSeal(2n, [], []);
    const reads = ledger.tree.stats.reads;
    expect(ledger.tree.get(key, again.record.root)).toBeDefined();
    expect(ledger.tree.stats.reads).toBe(reads);
  });
});
