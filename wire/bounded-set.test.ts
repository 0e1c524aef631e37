import { describe, expect, it } from 'vitest';
import { BoundedSet, trimOldest } from './bounded-set.ts';

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

describe('trimOldest', () => {
  it('drops the oldest entries first, counting a re-inserted key as new, across clears', () => {
    const m = new Map<string, number>();
    for (const k of ['a', 'b', 'c']) m.set(k, 0);
    m.delete('a');
    m.set('a', 1); // refreshed: now the newest
    m.set('d', 0);
    trimOldest(m, 2);
    expect([...m.keys()]).toEqual(['a', 'd']);
    m.clear();
    for (const k of ['x', 'y', 'z']) m.set(k, 0);
    trimOldest(m, 1);
    expect([...m.keys()]).toEqual(['z']);
  });
});
