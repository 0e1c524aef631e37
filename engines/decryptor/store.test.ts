import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../storage/memory.ts';
import { bareCommittedBlock } from '../../wire/testing.ts';
import { DecryptorStore } from './store.ts';

describe('decryptor block log', () => {
  it('replays a block whose transactions exceed the codec default limits (as consensus accepts them)', () => {
    const store = new DecryptorStore(new MemoryStorage());
    const big = new Uint8Array(60_000).fill(7);
    const block = bareCommittedBlock('fractal-test', 1n, [big, big, Uint8Array.of(1)]);
    store.saveBlock(block);
    const [replayed] = [...store.blocks()];
    expect(replayed!.block.txs.map((t) => t.length)).toEqual([60_000, 60_000, 1]);
  });
});
