import { describe, expect, it } from 'vitest';
import { nextU32, Random, seedState } from './random.ts';

describe('random', () => {
  it('is a pure function of its state', () => {
    const s = seedState(42);
    const [a, s1] = nextU32(s);
    const [b] = nextU32(s);
    expect(a).toBe(b);
    expect(nextU32(s1)[0]).not.toBe(a);
  });

  it('same seed, same stream; different seed, different stream', () => {
    const take = (r: Random) => Array.from({ length: 16 }, () => r.u32());
    expect(take(new Random(1))).toEqual(take(new Random(1)));
    expect(take(new Random(1))).not.toEqual(take(new Random(2)));
  });

  it('draws the stream of nextU32 from its state, and snapshots where it is', () => {
    const r = new Random('stream');
    let state = seedState('stream');
    for (let i = 0; i < 1000; i++) {
      const [v, next] = nextU32(state);
      expect(r.u32()).toBe(v);
      state = next;
    }
    expect(r.snapshot()).toEqual(state);
    expect(new Random(r.snapshot()).u32()).toBe(nextU32(state)[0]);
  });

  it('int(n) stays in range and covers it', () => {
    const r = new Random('range');
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = r.int(7);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(7);
      seen.add(v);
    }
    expect(seen.size).toBe(7);
    expect(() => r.int(0)).toThrow(RangeError);
  });

  it('float is in [0, 1) and roughly uniform', () => {
    const r = new Random(9);
    let sum = 0;
    for (let i = 0; i < 10_000; i++) {
      const f = r.float();
      expect(f >= 0 && f < 1).toBe(true);
      sum += f;
    }
    expect(Math.abs(sum / 10_000 - 0.5)).toBeLessThan(0.02);
  });
});
