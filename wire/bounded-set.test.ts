import { describe, expect, it } from 'vitest';
import { BoundedSet } from './bounded-set.ts';

describe('BoundedSet', () => {
  it('keeps the newest `capacity` entries, forgetting the oldest first', () => {
    const s = new BoundedSet<number>(3);
    for (const k of [1, 2, 3, 2, 4, 5]) s.add(k);
    expect([1, 2, 3, 4, 5].map((k) => s.has(k))).toEqual([false, false, true, true, true]);
    expect(s.size).toBe(3);
  });

  it('stays bounded and correct over many insertions', () => {
    const s = new BoundedSet<number>(100);
    for (let k = 0; k < 100_000; k++) s.add(k);
    expect(s.size).toBe(100);
    expect(s.has(99_899)).toBe(false);
    expect(s.has(99_900)).toBe(true);
  });
});
