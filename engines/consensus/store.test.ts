import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../storage/memory.ts';
import { isStorageError } from '../../storage/types.ts';
import { ConsensusStore } from './store.ts';

const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};

describe('ConsensusStore: records its invariants require', () => {
  it('committedBlock: the block when stored, a corrupt-storage error naming the height when not', () => {
    const store = new ConsensusStore(new MemoryStorage());
    store.commit(1n, Uint8Array.of(1, 2, 3));
    expect(store.committedBlock(1n)).toEqual(Uint8Array.of(1, 2, 3));
    const e = thrown(() => store.committedBlock(2n));
    expect(isStorageError(e, 'corrupt')).toBe(true);
    expect(String(e)).toMatch(/the block at height 2 is missing although the store holds blocks up to 1/);
  });

  it('requireValidatorsAt: the latest set at or below the height, a corrupt-storage error when none', () => {
    const store = new ConsensusStore(new MemoryStorage());
    expect(
      isStorageError(
        thrown(() => store.requireValidatorsAt(5n)),
        'corrupt',
      ),
    ).toBe(true);
    store.setValidators(1n, Uint8Array.of(7));
    store.setValidators(4n, Uint8Array.of(8));
    expect(store.requireValidatorsAt(3n)).toEqual(Uint8Array.of(7));
    expect(store.requireValidatorsAt(9n)).toEqual(Uint8Array.of(8));
  });
});
